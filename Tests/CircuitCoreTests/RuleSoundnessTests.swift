import Foundation
import Testing
@testable import CircuitCore

@Suite struct RuleSoundnessTests {
    static func circuit(_ text: String) -> RuleCircuit {
        guard let c = RuleCircuit(text: Substring(text)) else { Issue.record("cannot read '\(text)'"); return RuleCircuit([]) }
        return c
    }

    static func equal(_ a: String, _ b: String) throws -> Bool { try SymbolicEquivalence.equal(circuit(a), circuit(b)) }

    @Test func trueIdentitiesPassIncludingParameterDependentGlobalPhase() throws {
        #expect(try Self.equal("cx 0 1; cx 0 1", "."))
        #expect(try Self.equal("rz 0 p0; rz 0 p1", "rz 0 p0+p1"))
        #expect(try Self.equal("rz 0 p0; cx 0 1", "cx 0 1; rz 0 p0"))
        #expect(try Self.equal("h 0; x 0; h 0", "z 0"))
        #expect(try Self.equal("t 0; t 0", "s 0"))
        #expect(try Self.equal("rz 0 p0", "u1 0 p0"))  // differ by e^{-ip0/2}, a global phase
        #expect(try Self.equal("h 1; cx 0 1; h 1", "cz 0 1"))
        #expect(try Self.equal("cx 0 1; cx 1 0; cx 0 1", "swap 0 1"))
    }

    @Test func falseIdentitiesAreRejected() throws {
        #expect(try !Self.equal("z 0", "."))  // a relative phase, not a global one
        #expect(try !Self.equal("rz 1 p0; cx 0 1", "cx 0 1; rz 1 p0"))
        #expect(try !Self.equal("x 0; rz 0 p0; x 0", "rz 0 p0"))
        #expect(try !Self.equal("rz 0 p0", "rz 0 p0+p1"))
        #expect(try !Self.equal("h 0; cx 0 1", "cx 0 1; h 0"))
    }

    /// rz(p)·rz(p) = I holds (up to phase) at p = 0 and p = π, so a check at those points admits it; the
    /// symbolic check does not.
    @Test func anIdentityAtSomePointsOnlyIsRejected() throws {
        let source = Self.circuit("rz 0 p0; rz 0 p0"), target = Self.circuit(".")
        for p in [Angle.zero, .piTimes(1)] {
            let a = Circuit(qubits: 1, gates: source.instantiate(qubits: [0], params: [p]))
            let b = Circuit(qubits: 1, gates: target.instantiate(qubits: [0], params: [p]))
            #expect(EquivalenceChecker().check(a, b).isEquivalent)
        }
        #expect(try !SymbolicEquivalence.equal(source, target))
    }

    @Test func gatesWithoutAnExactFormAreReportedNotGuessed() {
        #expect(throws: SymbolicEquivalence.Unsupported.self) { try Self.equal("sx 0", "h 0") }
    }

    /// Every rule and class of the shipped file passes, and its checksum is the one trusted at load time.
    @Test func shippedRuleFileVerifiesAndIsTrusted() throws {
        let text = try String(contentsOf: TestData.packageRoot.appendingPathComponent("Services/CircuitOptimizer/rules/nam.rules"), encoding: .utf8)
        let set = try RuleSet(text: text, classes: true)
        #expect(set.rules.count > 1000)
        for r in set.rules { #expect(RuleVerification.refutation(r.source, r.target) == nil) }
        for members in set.classes { for c in members.dropFirst() { #expect(RuleVerification.refutation(members[0], c) == nil) } }
        #expect(RuleVerification.shipped.contains(RuleVerification.checksum(text)),
                "nam.rules changed: put its checksum 0x\(String(RuleVerification.checksum(text), radix: 16)) in RuleVerification.shipped")
    }

    static let header = "lattice-rules 1\ngate-set nam gates 3 qubits 3 params 2\n"

    @Test func aFileWithAFalseRuleIsRefusedWithItsLine() {
        let text = Self.header + "rule cx 0 1; cx 0 1 => .\nrule rz 1 p0; cx 0 1 => cx 0 1; rz 1 p0\n"
        do {
            _ = try RuleSet(text: text)
            Issue.record("a false rule was admitted")
        } catch {
            #expect(error.line == 4)
            #expect(error.message.contains("not an identity"))
        }
        let falseClass = Self.header + "class z 0 | .\n"
        #expect(throws: RuleSet.FormatError.self) { try RuleSet(text: falseClass.replacingOccurrences(of: "nam", with: "clifford-t")) }
    }

    /// Matching walks a rule's source recursively, gate by gate: a circuit longer than the header
    /// allows (matching a 100,000-gate identity would recurse 100,000 deep; here 1,000) is refused by line,
    /// and so is a header above RuleSet.maxGates.
    @Test func circuitsLongerThanTheHeaderAllowsAreRefused() {
        let long = Self.header + "rule cx 0 1; cx 0 1 => .\nrule " + Array(repeating: "h 0", count: 1000).joined(separator: "; ") + " => .\n"
        do {
            _ = try RuleSet(text: long)
            Issue.record("a 1,000-gate rule was admitted under a 3-gate header")
        } catch {
            #expect(error.line == 4 && error.message.contains("1000 gates; the header says at most 3"), "\(error)")
        }
        do {
            _ = try RuleSet(text: "lattice-rules 1\ngate-set nam gates 100000 qubits 3 params 2\nrule h 0; h 0 => .\n")
            Issue.record("a header of 100,000 gates was admitted")
        } catch {
            #expect(error.line == 2 && error.message.contains("1...\(RuleSet.maxGates) gates"), "\(error)")
        }
    }

    @Test func theHeaderGateSetIsChecked() throws {
        #expect(throws: RuleSet.FormatError.self) { try RuleSet(text: "lattice-rules 1\ngate-set qutrit gates 3 qubits 3 params 2\nrule h 0; h 0 => .\n") }
        // t is not a Nam gate.
        #expect(throws: RuleSet.FormatError.self) { try RuleSet(text: Self.header + "rule t 0; t 0 => .\n") }
        // A Clifford+T file is sound but not for rewriting in Nam gates.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("clifford-\(UUID().uuidString).rules").path
        try "lattice-rules 1\ngate-set clifford-t gates 2 qubits 1 params 0\nrule h 0; h 0 => .\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try RuleSet.load(path, gateSet: .cliffordT).rules.count == 1)
        #expect(throws: RuleSet.FormatError.self) { try RuleSet.load(path) }
    }

    @Test func aDefaultRuleFileThatFailsVerificationIsAnErrorNamingItNotASmallerFallback() throws {
        // A tree laid out like the source tree, with a false rule in its shipped rule file.
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lattice-tree-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("Services/CircuitOptimizer/rules")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("nam.rules")
        try (Self.header + "rule rz 1 p0; cx 0 1 => cx 0 1; rz 1 p0\n").write(to: file, atomically: true, encoding: .utf8)
        let bin = root.appendingPathComponent(".build/release")
        do {
            _ = try RuleSet.standard(from: bin, environment: [:])
            Issue.record("a shipped rule file with a false rule was replaced by a generated set without a word")
        } catch {
            #expect(error.path == file.path)
            #expect(error.description.contains(file.path) && error.description.contains("not an identity"), "\(error)")
        }
        // LATTICE_RULES naming a missing file is an error too; no file anywhere is the generated fallback.
        #expect(throws: RuleSet.DefaultRulesError.self) { try RuleSet.standard(from: bin, environment: ["LATTICE_RULES": root.appendingPathComponent("none.rules").path]) }
        try FileManager.default.removeItem(at: file)
        #expect(try RuleSet.standard(from: bin, environment: [:]).rules.count > 0)
    }
}
