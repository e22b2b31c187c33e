import Foundation
import Testing
@testable import CircuitCore

/// An independent check of our outputs with mqt.qcec (installed into a venv under ~/.cache on first use).
@Suite(.serialized) struct QCECTests {
    static let python: String? = {
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        for venv in ["\(home)/.cache/lattice-peers", "\(home)/.cache/lattice-qcec"] where run("\(venv)/bin/python", ["-c", "import mqt.qcec, qiskit"]) == 0 {
            return "\(venv)/bin/python"
        }
        let venv = "\(home)/.cache/lattice-qcec"
        guard run("/usr/bin/env", ["python3", "-m", "venv", venv]) == 0,
              run("\(venv)/bin/pip", ["install", "-q", "mqt.qcec", "qiskit"]) == 0 else { return nil }
        return "\(venv)/bin/python"
    }()

    static func run(_ exe: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    static let script = """
    import sys, re
    import qiskit.qasm2
    from mqt import qcec
    def load(path):
        src = open(path).read()
        if re.search(r"^\\s*ccz\\b", src, re.M):
            src = src.replace('include "qelib1.inc";', 'include "qelib1.inc";\\ngate ccz a,b,c { h c; ccx a,b,c; h c; }', 1)
        return qiskit.qasm2.loads(src, custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    r = qcec.verify(load(sys.argv[1]), load(sys.argv[2]), timeout=120)
    print(str(r.equivalence).split(".")[-1])
    """

    func qcec(_ a: Circuit, _ b: Circuit) throws -> String {
        let py = try #require(Self.python, "mqt.qcec could not be installed (is PyPI reachable?)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qcec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (fa, fb, fs) = (dir.appendingPathComponent("a.qasm"), dir.appendingPathComponent("b.qasm"), dir.appendingPathComponent("check.py"))
        try QASMPrinter.print(a).write(to: fa, atomically: true, encoding: .utf8)
        try QASMPrinter.print(b).write(to: fb, atomically: true, encoding: .utf8)
        try Self.script.write(to: fs, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: py)
        p.arguments = [fs.path, fa.path, fb.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// qcla_mod_7 (26 qubits, beyond our simulator) and mod_mult_55: the circuits where the published
    /// rotation merging goes wrong. Also one searched output with rewrite rules.
    @Test func outputsAreEquivalentAccordingToQCEC() throws {
        for name in ["qcla_mod_7", "mod_mult_55"] {
            let c = try TestData.nam(name)
            let out = NamPipeline.run(c, deadline: Deadline(seconds: 5))
            #expect(out.gateCount < c.gateCount)
            #expect(try qcec(c, out).hasPrefix("equivalent"), "\(name)")
        }
        var o = OptimizeOptions()
        o.budget = 2
        o.rules = RuleGenerator(gates: 3, qubits: 3, params: 2).generate()
        let c = try TestData.nam("barenco_tof_4")
        let r = try Optimizer.optimize(c, options: o)
        #expect(try qcec(c, r.circuit).hasPrefix("equivalent"))
        // And qcec does notice a wrong circuit.
        var wrong = r.circuit
        if let i = wrong.gates.firstIndex(where: { $0.kind == .rz }) { wrong.gates[i].params[0] = -wrong.gates[i].params[0] + .piTimes(1, over: 8) }
        #expect(try !qcec(c, wrong).hasPrefix("equivalent"))
    }
}
