import Foundation
import Testing
@testable import CircuitCore

@Suite struct OptimizerTests {
    static let rules = RuleGenerator(gates: 3, qubits: 3, params: 2).generate()

    func options(_ method: OptimizeMethod, budget: Double) -> OptimizeOptions {
        var o = OptimizeOptions()
        o.method = method
        o.budget = budget
        o.rules = Self.rules
        return o
    }

    @Test(arguments: OptimizeMethod.allCases)
    func everyMethodReducesAndVerifies(_ method: OptimizeMethod) throws {
        let c = try TestData.nam("barenco_tof_3")
        let r = try Optimizer.optimize(c, options: options(method, budget: 2))
        #expect(r.gatesAfter < r.gatesBefore)
        #expect(r.verdict.isEquivalent)
        #expect(r.countsBefore["ccz"] == 4)
        #expect(try QASMParser.parse(r.qasm) == r.circuit)
        #expect(r.seconds < 4)
    }

    @Test func progressIsReportedAndCancellationStopsEarly() throws {
        let c = try TestData.nam("gf2^4_mult")
        let seen = Counter()
        let r = try Optimizer.optimize(c, options: options(.search, budget: 30), progress: { _ in seen.add() }, cancelled: { true })
        #expect(seen.value >= 2)
        #expect(r.seconds < 5)
        #expect(r.verdict.isEquivalent)
    }

    @Test func otherGateSetsAndCosts() throws {
        let c = try TestData.nam("tof_3")
        for set in [GateSet.ibm, .cliffordT, .rigetti, .ibmU] {
            var o = options(.greedy, budget: 2)
            o.gateSet = set
            o.cost = .cx
            let r = try Optimizer.optimize(c, options: o)
            #expect(r.circuit.gates.allSatisfy { set.kinds.contains($0.kind) }, "\(set)")
            #expect(r.verdict.isEquivalent)
        }
    }

    @Test func budgetZeroGivesAValidResult() throws {
        let c = try TestData.nam("mod5_4")
        let r = try Optimizer.optimize(c, options: options(.search, budget: 0))
        #expect(r.verdict.isEquivalent)
        #expect(r.gatesAfter <= r.gatesBefore)
        #expect(r.seconds < 1)
    }

    @Test func thousandQubitsIsUnverifiedButValid() throws {
        var gates: [Gate] = []
        for q in 0..<999 { gates += [.h(q), .cx(q, q + 1), .cx(q, q + 1), .rz(q + 1, .piTimes(1, over: 4))] }
        let c = Circuit(qubits: 1000, gates: gates)
        let r = try Optimizer.optimize(c, options: options(.search, budget: 2))
        #expect(r.gatesAfter < r.gatesBefore)
        #expect(r.verdict.description.contains("too wide"))
        #expect(r.seconds < 6)
    }

    @Test func millionGatesRespectsTheBudget() throws {
        var rng = SplitMix64(seed: 5)
        var text = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[16];\n"
        text.reserveCapacity(16_000_000)
        for _ in 0..<1_000_000 {
            let a = Int(rng.next() % 16), b = (a + 1 + Int(rng.next() % 15)) % 16
            switch rng.next() % 4 {
            case 0: text += "h q[\(a)];\n"
            case 1: text += "cx q[\(a)],q[\(b)];\n"
            case 2: text += "rz(pi/4) q[\(a)];\n"
            default: text += "x q[\(a)];\n"
            }
        }
        let c = try QASMParser.parse(text)
        #expect(c.gates.count == 1_000_000)
        let r = try Optimizer.optimize(c, options: options(.search, budget: 3))
        #expect(r.gatesAfter <= r.gatesBefore)
        #expect(!r.verdict.isRefuted)
        #expect(r.seconds < 30)
    }

    @Test func tooManyGatesIsAnError() {
        var limits = QASMParser.Limits()
        limits.maxGates = 10
        #expect(throws: QASMError.self) { try QASMParser.parse("qreg q[1];\n" + String(repeating: "h q[0];\n", count: 11), limits: limits) }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
