import Testing
@testable import CircuitCore

@Suite struct VerificationTests {
    @Test func detectsDifferenceAndIgnoresGlobalPhase() {
        let a = Circuit(qubits: 2, gates: [.h(0), .cx(0, 1), .rz(1, .piTimes(1, over: 4))])
        var b = a
        b.gates.append(.rz(0, .piTimes(2)))  // rz(2π) = −I: global phase only
        #expect(EquivalenceChecker().check(a, b).isEquivalent)
        var wrong = a
        wrong.gates[2] = .rz(1, .piTimes(-1, over: 4))
        #expect(EquivalenceChecker().check(a, wrong).isRefuted)
    }

    @Test func randomStatesOnWiderCircuits() throws {
        let c = try TestData.nam("tof_5")  // 9 qubits: beyond the unitary limit
        var checker = EquivalenceChecker()
        checker.unitaryQubits = 6
        #expect(checker.check(c, c).description.contains("random states"))
        var wrong = c
        wrong.gates.removeLast()
        #expect(checker.check(c, wrong).isRefuted)
    }

    @Test func tooWideGoesToThePathSum() {
        let c = Circuit(qubits: 30, gates: [.h(0), .cx(0, 29), .rz(29, .piTimes(1, over: 4))])
        #expect(EquivalenceChecker().check(c, c).description.hasPrefix("verified (path sum, 30 qubits, "))
        var wrong = c
        wrong.gates.append(.x(3))
        #expect(EquivalenceChecker().check(c, wrong).isRefuted)
        var unsupported = c
        unsupported.gates.append(Gate(.u3, [1], [.zero, .zero, .piTimes(1, over: 2)]))
        #expect(EquivalenceChecker().check(c, unsupported).description.contains("unverified: path sum: gate u3"))
    }
}
