import Testing
@testable import CircuitCore

@Suite struct QASMTests {
    @Test func parsesAnglesExactly() throws {
        let c = try QASMParser.parse("""
        OPENQASM 2.0;
        include "qelib1.inc";
        qreg q[2];
        rz(pi/4) q[0];
        rz(-pi/4) q[0];
        rz(3*pi/4) q[1];
        rz(pi*3/4) q[1];
        u1(2*pi) q[0];
        rz(0.5) q[0];
        rz(-(pi/2 + pi/4)*2) q[1];
        rz(pi*0.25) q[1];
        """)
        let angles = c.gates.map { $0.params[0] }
        #expect(angles[0] == .piTimes(1, over: 4))
        #expect(angles[1] == .piTimes(-1, over: 4))
        #expect(angles[2] == .piTimes(3, over: 4))
        #expect(angles[3] == .piTimes(3, over: 4))
        #expect(angles[4].isZeroModTwoPi)
        #expect(angles[5] == .radians(0.5))
        #expect(angles[6] == .piTimes(1, over: 2))   // -3π/2 ≡ π/2
        #expect(angles[7] == .piTimes(1, over: 4))
        #expect((angles[0] + angles[1]).isZeroModTwoPi)
    }

    @Test func inlinesUserGatesAndBroadcasts() throws {
        let c = try QASMParser.parse("""
        OPENQASM 2.0;
        include "qelib1.inc";
        gate mygate(theta) a, b { cx a, b; rz(theta/2) b; }
        qreg q[2];
        qreg r[2];
        creg c[2];
        mygate(pi) q[0], q[1];
        h r;
        cx q, r;
        barrier q, r[0];
        measure q -> c;
        """)
        #expect(c.qubitCount == 4)
        #expect(c.gates.map(\.kind) == [.cx, .rz, .h, .h, .cx, .cx, .barrier, .measure, .measure])
        #expect(c.gates[1].params[0] == .piTimes(1, over: 2))
        #expect(c.gates[4].qubits == [0, 2] && c.gates[5].qubits == [1, 3])
        #expect(c.gates[6].qubits == [0, 1, 2])
        #expect(c.gates[8].cbits == [1])
    }

    @Test func roundTripsEveryBenchmarkCircuit() throws {
        let files = try FileManagerList.qasmFiles(in: TestData.namDirectory)
        #expect(files.count >= 20)
        for name in files {
            let c = try TestData.nam(name)
            let again = try QASMParser.parse(QASMPrinter.print(c))
            #expect(again == c, "round trip of \(name)")
        }
    }

    @Test func roundTripsFloatsAndFences() throws {
        let src = """
        OPENQASM 2.0;
        include "qelib1.inc";
        qreg a[3];
        creg m[3];
        u3(0.1,pi/3,-2.5e-3) a[2];
        ry(sin(0.3)) a[0];
        barrier a;
        measure a[1] -> m[2];
        """
        let c = try QASMParser.parse(src)
        #expect(try QASMParser.parse(QASMPrinter.print(c)) == c)
    }

    private func failure(_ src: String) -> QASMError? {
        do { _ = try QASMParser.parse("OPENQASM 2.0;\ninclude \"qelib1.inc\";\n" + src); return nil } catch { return error }
    }

    @Test func syntaxErrorSaysWhereAndWhat() throws {
        let e = try #require(failure("qreg q[2];\nh q[0]\ncx q[0], q[1];"))
        #expect(e.line == 5 && e.column == 1)
        #expect(e.message.contains("expected ';'"))
    }

    @Test func unknownGate() throws {
        let e = try #require(failure("qreg q[2];\nfoo q[0];"))
        #expect(e.line == 4 && e.column == 1 && e.message.contains("unknown gate 'foo'"))
    }

    @Test func undeclaredRegister() throws {
        let e = try #require(failure("qreg q[2];\nh r[0];"))
        #expect(e.line == 4 && e.column == 3 && e.message.contains("undeclared register 'r'"))
    }

    @Test func indexOutOfRange() throws {
        let e = try #require(failure("qreg q[2];\ncx q[0], q[2];"))
        #expect(e.line == 4 && e.column == 12 && e.message.contains("out of range"))
    }

    /// fuzz-qasm found a stack overflow on a line of ~1,500 '(': nesting and length are bounded
    /// with a clear error, and an expression inside the bounds still parses.
    @Test func deepOrLongAnglesAreRefusedNotACrash() throws {
        let deep = try #require(failure("qreg q[1];\nrz(" + String(repeating: "(", count: 5000) + "pi" + String(repeating: ")", count: 5000) + ") q[0];"))
        #expect(deep.line == 4 && deep.message.contains("nested too deeply"), "\(deep.message)")
        let signs = try #require(failure("qreg q[1];\nrz(" + String(repeating: "-", count: 5000) + "pi) q[0];"))
        #expect(signs.message.contains("nested too deeply"), "\(signs.message)")
        let long = try #require(failure("qreg q[1];\nrz(pi" + String(repeating: "+pi", count: 5000) + ") q[0];"))
        #expect(long.message.contains("too long"), "\(long.message)")
        let fine = try QASMParser.parse("OPENQASM 2.0;\nqreg q[1];\nrz(" + String(repeating: "(", count: 40) + "pi/4" + String(repeating: ")", count: 40)
                                        + String(repeating: "+0", count: 500) + ") q[0];")
        #expect(fine.gates.map { $0.params[0] } == [.piTimes(1, over: 4)])
    }

    /// A user gate inlines the definitions its body named when it was read: redefining a gate in
    /// terms of itself (which recursed for ever, overflowing the stack) now wraps the gate it
    /// replaces, and definitions nested more than 64 deep are refused with a clear error.
    @Test func selfReferentialOrDeepGateDefinitionsAreNotACrash() throws {
        let wrapped = try QASMParser.parse("OPENQASM 2.0;\nqreg q[2];\ngate h a { h a; }\ngate h a { h a; x a; }\nh q[1];")
        #expect(wrapped.gates.map(\.kind) == [.h, .x] && wrapped.gates.allSatisfy { $0.qubits == [1] })
        let loop = try QASMParser.parse("OPENQASM 2.0;\nqreg q[1];\ngate g a { x a; }\ngate g a { g a; g a; }\ng q[0];")
        #expect(loop.gates.map(\.kind) == [.x, .x])
        func chain(_ levels: Int) -> String {
            "qreg q[1];\ngate g0 a { t a; }\n" + (1..<levels).map { "gate g\($0) a { g\($0 - 1) a; }\n" }.joined() + "g\(levels - 1) q[0];"
        }
        let deep = try #require(failure(chain(1000)))
        #expect(deep.line == 4 + 64 && deep.message.contains("more than 64 deep"), "\(deep.line): \(deep.message)")
        #expect(try QASMParser.parse("OPENQASM 2.0;\n" + chain(64)).gates.map(\.kind) == [.t])
    }

    @Test func badAngles() throws {
        let e1 = try #require(failure("qreg q[1];\nrz(pi/) q[0];"))
        #expect(e1.line == 4 && e1.message.contains("expected an angle expression"))
        let e2 = try #require(failure("qreg q[1];\nrz(1/0) q[0];"))
        #expect(e2.message.contains("not a finite number"))
        let e3 = try #require(failure("qreg q[1];\nrz(theta) q[0];"))
        #expect(e3.message.contains("unknown parameter 'theta'"))
        let e4 = try #require(failure("qreg q[1];\nrz(pi, pi) q[0];"))
        #expect(e4.message.contains("takes 1 parameter"))
    }

    @Test func otherMistakes() throws {
        #expect(try #require(failure("qreg q[2];\ncx q[0], q[0];")).message.contains("same qubit twice"))
        #expect(try #require(failure("qreg q[2];\nqreg q[3];")).message.contains("already declared"))
        #expect(try #require(failure("qreg q[0];")).message.contains("at least 1"))
        #expect(try #require(failure("qreg q[2];\nh q[0]; @")).message.contains("unexpected character"))
        #expect(try #require(failure("qreg q[2];\nif (c==1) h q[0];")).message.contains("not supported"))
        #expect(try #require(failure("qreg q[99999999999];")).message.contains("too many qubits"))
    }
}

enum FileManagerList {
    static func qasmFiles(in dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".qasm") }.map { String($0.dropLast(5)) }.sorted()
    }
}

import Foundation
