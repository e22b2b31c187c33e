import CircuitCore
@testable import CircuitLearning
import Foundation
import Testing
import Tensor

@Suite struct TrainingTests {
    static let rules = RuleGenerator(gates: 2, qubits: 2, params: 1).generate()

    /// Redundant pairs on three wires, so that reducing moves exist everywhere.
    static let redundant = Circuit(qubits: 3, gates: [.h(0), .h(0), .cx(0, 1), .cx(0, 1), .x(2), .h(1), .x(2), .h(1), .cx(1, 2), .cx(1, 2)])

    func transition(_ model: QuarlModel, advantage: Float, choice: Int) -> Transition {
        var environment = RewriteEnvironment(Self.redundant, rules: Self.rules.rules)
        let graph = CircuitGraph(environment.dag)
        let local = graph.neighbourhood(of: 2, hops: model.config.layers)
        let mask = ActionMask(environment.matches(at: 2), actions: model.config.actions)
        let action = mask.indices[choice]
        let tape = Tape()
        let logits = tape.value(model.logits(tape.gather(model.embed(local.graph, on: tape), rows: [local.center]), on: tape)).scalars
        let lp = tape.value(tape.maskedLogSoftmax(tape.constant(Tensor(shape: [1, logits.count], scalars: logits)!), mask: mask.allowed)).scalars[action]
        return Transition(state: local.graph, center: local.center, allowed: mask.indices, action: action,
                          logProbability: lp, reward: 1, target: 1, advantage: advantage)
    }

    func logProbability(_ model: QuarlModel, _ t: Transition) -> Float {
        let tape = Tape()
        let logits = model.logits(tape.gather(model.embed(t.state, on: tape), rows: [t.center]), on: tape)
        var mask = [Bool](repeating: false, count: model.config.actions)
        for a in t.allowed { mask[a] = true }
        return tape.value(tape.maskedLogSoftmax(logits, mask: mask)).scalars[t.action]
    }

    @Test func ppoRaisesAnActionWithPositiveAdvantageAndLowersANegativeOne() {
        let model = QuarlModel(config: ModelConfig(rules: Self.rules.rules.count, hidden: 16, layers: 2), seed: 2)
        for sign: Float in [1, -1] {
            var m = model
            let good = transition(m, advantage: sign, choice: 0), other = transition(m, advantage: -sign, choice: 1)
            var settings = PPOSettings()
            settings.entropy = 0
            var ppo = PPO(settings: settings)
            ppo.adam.warmup = 0
            var rng = SeededGenerator(seed: 1)
            // Two actions at one gate with opposite advantages (normalised to ±1), both pushing the same way.
            #expect(good.action != other.action)
            let before = logProbability(m, good)
            _ = ppo.update(&m, [good, other], rng: &rng)
            let after = logProbability(m, good)
            #expect(sign > 0 ? after > before : after < before, "sign \(sign): \(before) → \(after)")
        }
    }

    @Test func anIterationCollectsMovesAndFindsTheReductions() {
        let model = QuarlModel(config: ModelConfig(rules: Self.rules.rules.count, hidden: 16, layers: 2), seed: 3)
        var trainer = Trainer(model: model, rules: Self.rules, circuits: [TrainingCircuit(name: "redundant", circuit: Self.redundant)], seed: 5)
        trainer.episodesPerIteration = 8
        var p = trainer.iterate(deadline: .never)
        #expect(p.episodes == 8 && p.steps > 0)
        p = trainer.iterate(deadline: .never)
        #expect(trainer.model.parameters != model.parameters)
        #expect(p.best[0].initial == 10 && p.best[0].best < 10)
        #expect(p.line.contains("redundant 10→"))
    }

    @Test func checkpointRoundTripsAndRefusesOtherRules() throws {
        let model = QuarlModel(config: ModelConfig(rules: Self.rules.rules.count, hidden: 8, layers: 2), seed: 9)
        let data = Checkpoint(model: model, rules: Self.rules, trainedSeconds: 12, iterations: 3).encoded()
        let back = try Checkpoint.decode(data, rules: Self.rules)
        #expect(back.model.parameters == model.parameters && back.model.config == model.config && back.iterations == 3)
        let other = RuleGenerator(gates: 2, qubits: 1, params: 1).generate()
        #expect { try Checkpoint.decode(data, rules: other) } throws: { "\($0)".contains("another rule set") }
        #expect { try Checkpoint.decode(data.dropLast(5), rules: Self.rules) } throws: { "\($0)".contains("truncated") }
        #expect { try Checkpoint.decode(Data("lattice-quarl-checkpoint 0\nweights\n".utf8), rules: Self.rules) } throws: { "\($0)".contains("not a checkpoint of this version") }
    }

    /// Slices go to whichever side reduced the cost faster last time, else to the one below its share.
    @Test func slicesGoToTheFasterSideThenByShare() {
        typealias R = LearnedSearch.Record
        #expect(LearnedSearch.next(R(), searchShare: 0.5, searchExhausted: false) == .search)
        #expect(LearnedSearch.next(R(), searchShare: 0, searchExhausted: false) == .walks)
        #expect(LearnedSearch.next(R(), searchShare: 0.5, searchExhausted: true) == .walks)
        #expect(LearnedSearch.next(R(seconds: [.search: 2], rate: [.search: 3]), searchShare: 0.5, searchExhausted: false) == .walks)
        let searchFaster = R(seconds: [.search: 8, .walks: 2], rate: [.search: 1, .walks: 0.5])
        #expect(LearnedSearch.next(searchFaster, searchShare: 0.5, searchExhausted: false) == .search)
        #expect(LearnedSearch.next(searchFaster, searchShare: 1, searchExhausted: false) == .search)
        let walksFaster = R(seconds: [.search: 2, .walks: 8], rate: [.search: 0, .walks: 0.5])
        #expect(LearnedSearch.next(walksFaster, searchShare: 0.5, searchExhausted: false) == .walks)
        let stalled = R(seconds: [.search: 4, .walks: 6], rate: [.search: 0, .walks: 0])
        #expect(LearnedSearch.next(stalled, searchShare: 0.5, searchExhausted: false) == .search)
        #expect(LearnedSearch.next(stalled, searchShare: 0.3, searchExhausted: false) == .walks)
    }

    @Test func learnedMethodReturnsAVerifiedSmallerCircuit() throws {
        let model = QuarlModel(config: ModelConfig(rules: Self.rules.rules.count, hidden: 16, layers: 2), seed: 3)
        var options = OptimizeOptions()
        options.method = .learned
        options.budget = 2
        options.rules = Self.rules
        let input = Circuit(qubits: 3, gates: Self.redundant.gates + [.cx(0, 2), .rz(2, .piTimes(1, over: 4)), .cx(0, 2), .rz(2, .piTimes(-1, over: 4))])
        // The policy's walks alone, and after the non-learned search's share.
        for share in [0, 0.5] {
            var learned = LearnedSearch(checkpoint: Checkpoint(model: model, rules: Self.rules, trainedSeconds: 0, iterations: 0), rules: Self.rules)
            learned.searchShare = share
            options.learned = learned
            let result = try Optimizer.optimize(input, options: options)
            #expect(result.verdict.isEquivalent)
            #expect(result.gatesAfter < input.gateCount)
        }
        options.learned = nil
        #expect(throws: OptimizeError.self) { try Optimizer.optimize(input, options: options) }
    }
}
