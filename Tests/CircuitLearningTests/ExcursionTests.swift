import CircuitCore
@testable import CircuitLearning
import Testing
import Tensor

/// The walks go on from circuits above the best when a round from the best finds nothing.
@Suite struct ExcursionTests {
    static let rules = RuleGenerator(gates: 2, qubits: 2, params: 1).generate()

    @Test func aStalledRoundIsFollowedByAnExcursionAndTheBestNeverRises() {
        // No two-gate rule and no pass makes this smaller: every round from it finds nothing.
        let start = Circuit(qubits: 3, gates: [.h(0), .cx(0, 1), .rz(1, .piTimes(1, over: 4)), .cx(1, 2), .h(2), .x(1)])
        let model = QuarlModel(config: ModelConfig(rules: Self.rules.rules.count, hidden: 8, layers: 2), seed: 4)
        var walks = PolicyWalks(start, model: model, engine: RewriteEngine(rules: Self.rules.rules), cost: .gates,
                                rotationMerging: true, seed: 7, trajectoriesPerRound: 2, fineTuneEvery: 0, fineTuneShare: 0)
        walks.run(until: Deadline(seconds: 1)) { _ in }
        #expect(walks.bestCost == start.gateCount)
        #expect(walks.excursionRounds > 0)
        #expect(walks.moves > 0)
    }
}
