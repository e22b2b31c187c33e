import Foundation
import Testing
@testable import PlacementCore

/// The planner's last word: our simulator ranks the judge's best plans over several maximum flows each.
@Suite struct SimulatedRankingTests {
    /// Session 12's cluster42 default plan has many maximum flows: the shuffled link orders find
    /// others than Dinic's, all of the same value.
    @Test func shuffledLinkOrdersFindOtherMaximumFlowsOfTheSameValue() throws {
        let problem = try TestData.problem("cluster42", reference: true)
        let placement = try LayoutFile.load(path: "\(HelixFidelityTests.results)/cluster42-plan-s12-default.layout.json", nodeCount: problem.nodes.count)
        let flows = FlowScorer.runtimeFlows(problem, placement, .partial, count: 4)
        let dinic = FlowScorer.runtimeFlow(problem, placement, .partial)
        #expect(flows.count == 4)
        #expect(flows.first?.sameArcs(as: dinic) == true)
        for (i, flow) in flows.enumerated() {
            #expect(abs(flow.value - dinic.value) <= 1e-6 * dinic.value, "flow \(i): \(flow.value) against \(dinic.value)")
            for other in flows[..<i] { #expect(!flow.sameArcs(as: other), "flow \(i) repeats an earlier one") }
        }
    }

    /// The ranking leaves out Dinic's flow, the one the judge rated (and climbed) the plans over,
    /// where a layout has others and the judge's value depends on it: the flows it simulates are
    /// other maximum flows of the same value; a plan at its flow cap, and a layout with one maximum
    /// flow (the strict single24 24-GPU chain), keep Dinic's.
    @Test func theRankingLeavesOutTheFlowTheJudgeSaw() throws {
        let problem = try TestData.problem("cluster42", reference: true)
        let placement = try LayoutFile.load(path: "\(HelixFidelityTests.results)/cluster42-plan-s12-default.layout.json", nodeCount: problem.nodes.count)
        var simulation = FlowRobustSimulation(problem: problem, connectivity: .partial, workload: try Workload.azureConversations(dataDirectory: TestData.directory),
                                              profiles: try GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory))
        let dinic = FlowScorer.runtimeFlow(problem, placement, .partial)
        #expect(simulation.flowsToSimulate(placement).first?.sameArcs(as: dinic) == true, "off by default: Dinic's first")
        simulation.leavesOutJudgedFlow = true
        let unseen = simulation.flowsToSimulate(placement)
        #expect(unseen.count == simulation.flows)
        for flow in unseen {
            #expect(!flow.sameArcs(as: dinic))
            #expect(abs(flow.value - dinic.value) <= 1e-6 * dinic.value)
        }

        // With the judge's model: this plan's prediction differs from flow to flow (the climb could select on
        // Dinic's), so Dinic's stays out; a plan at its flow cap predicts the same over every flow, so it stays in.
        let model = try ServingModel(problem: problem, connectivity: .partial, profiles: simulation.profiles).climbed
        let predictions = FlowScorer.runtimeFlows(problem, placement, .partial, count: 4).map { model.predict(placement, flows: $0).decodeTokensPerSecond }
        #expect(Set(predictions).count > 1, "\(predictions)")
        simulation.judgedBy = model
        #expect(!simulation.flowsToSimulate(placement).contains { $0.sameArcs(as: dinic) })
        let capped = try TestData.problem("single24", reference: true)
        let atCap = try LayoutFile.load(path: "\(HelixFidelityTests.results)/single24-plan-s14-rank3.layout.json", nodeCount: capped.nodes.count)
        var cappedSimulation = FlowRobustSimulation(problem: capped, connectivity: .partial, workload: simulation.workload,
                                                    profiles: try GPUProfile.loadAll(problem: capped, dataDirectory: TestData.directory))
        cappedSimulation.leavesOutJudgedFlow = true
        let cappedModel = try ServingModel(problem: capped, connectivity: .partial, profiles: cappedSimulation.profiles).climbed
        let cap = FlowScorer.runtimeFlow(capped, atCap, .partial)
        #expect(abs(cappedModel.predict(atCap).decodeTokensPerSecond - cap.value * 232 / 995) < 0.01, "at the flow cap (mean output 232 of 995 tokens)")
        #expect(cappedSimulation.flowsToSimulate(atCap).count > 1, "the plan has several maximum flows")
        #expect(cappedSimulation.flowsToSimulate(atCap).first?.sameArcs(as: cap) == false, "without the model Dinic's is left out")
        cappedSimulation.judgedBy = cappedModel
        #expect(cappedSimulation.flowsToSimulate(atCap).first?.sameArcs(as: cap) == true, "flow-blind prediction: Dinic's stays")

        let single24 = try TestData.problem("single24")
        var options = SolveOptions(method: .auto, connectivity: .strict, budgetSeconds: 600)
        options.maxEvaluations = 12
        let chain = Planner.solve(single24, options: options).placement
        var strict = FlowRobustSimulation(problem: single24, connectivity: .strict, workload: simulation.workload,
                                          profiles: try GPUProfile.loadAll(problem: single24, dataDirectory: TestData.directory))
        strict.leavesOutJudgedFlow = true
        let kept = strict.flowsToSimulate(chain)
        #expect(kept.count == 1)
        #expect(kept.first?.sameArcs(as: FlowScorer.runtimeFlow(single24, chain, .strict)) == true)
    }

    /// Another plan replaces the judge's pick only by beating it by more than the noise (1%, or the
    /// standard error of the two means over their flows); of those that do, the first within 1% of
    /// the best; with the pick not simulated whole, the pick stands.
    @Test func anotherPlanWinsOnlyBeyondTheNoise() {
        func serving(_ tokens: [Double]) -> FlowRobustServing {
            FlowRobustServing(decodeTokensPerSecond: tokens, promptP50: tokens.map { _ in 1 }, decodeP50: tokens.map { _ in 1 })
        }
        #expect(SimulatedRanking.winner([serving([600]), serving([605]), serving([598])], tolerance: 0.01) == 0, "5 is within 1% of 600")
        #expect(SimulatedRanking.winner([serving([590]), serving([600]), serving([605])], tolerance: 0.01) == 1, "600 is within 1% of 605 and first")
        #expect(SimulatedRanking.winner([serving([590]), serving([596]), serving([605])], tolerance: 0.01) == 2)
        #expect(SimulatedRanking.winner([nil, serving([500]), serving([700])], tolerance: 0.01) == 0)
        // single24's judge pick in session 13 (272.2 to ~306 over three flows) against a steadier plan 3% above it: noise.
        let spread = serving([272.2, 305.0, 305.7])
        #expect(SimulatedRanking.winner([spread, serving([303.0, 303.2, 303.4])], tolerance: 0.01) == 0)
        #expect(SimulatedRanking.winner([spread, serving([330.0, 331.0, 332.0])], tolerance: 0.01) == 1)
        #expect(abs(spread.meanVariance - 122.14) < 0.01, "sample variance ÷ 3: \(spread.meanVariance)")
    }

    static func cluster10() throws -> (PlacementProblem, SimulatedRanking) {
        let problem = try PlacementProblem.load(clusterPath: TestData.cluster10(), model: .llama1_30b, dataDirectory: TestData.directory, useReferenceTables: true)
        var simulation = FlowRobustSimulation(problem: problem, connectivity: .partial,
                                              workload: try Workload.load(directory: TestData.directory + "/helix/workload"),
                                              profiles: try GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory))
        simulation.flows = 2
        simulation.config.measureSeconds = 60
        return (problem, SimulatedRanking(simulation: simulation))
    }

    /// The judge is told cluster10's Petals baseline (one 7-hop chain, three T4s unused) is best; our
    /// simulator rates one 10-hop chain of 6 layers a GPU 34% higher (51.7 against 38.5 decode
    /// tokens/s, 60 s measured): the chain has the last word, as it is (it has no unused node).
    /// Its prompt p50 is 20% longer (2.31 against 1.92 s): with the latency bound (10%) the pick stands.
    @Test func theSimulatorOverrulesTheJudgesPick() throws {
        var (problem, ranking) = try Self.cluster10()
        ranking.latencyBound = .infinity
        var chain = Placement(ranges: Array(repeating: nil, count: problem.nodes.count))
        for i in chain.ranges.indices { chain.ranges[i] = LayerRange(start: 6 * i, end: 6 * i + 6) }
        try chain.validate(for: problem)
        let petals = Baselines.petals(problem)
        var options = SolveOptions(method: .auto, connectivity: .partial, budgetSeconds: 600)
        options.maxEvaluations = 50
        let judgedBest = JudgeScore(value: 2, flow: 1), judgedSecond = JudgeScore(value: 1, flow: 1)
        // A judge that sees no difference: unused nodes keep the harmless range (it ties with everything after it).
        let judge = Judge(tolerance: 0.01) { _ in JudgeScore(value: 1, flow: 1) }
        let ranked = Planner.simulatedRanking(ranking, problem, first: (petals, "petals baseline", judgedBest), climbEnds: [], judged: [(chain, "chain", judgedSecond)],
                                              always: [], judge: judge, options: options, clock: Clock())
        let pick = ranked.statistics["simulated_judge_pick_mean_decode_tokens_per_s"] ?? .infinity
        let winner = ranked.statistics["simulated_mean_decode_tokens_per_s"] ?? 0
        #expect(ranked.choice.0 == chain, "Petals \(pick), winner \(winner)")
        #expect(ranked.choice.1 == "chain (ranked first by simulation over maximum flows)")
        #expect(ranked.statistics["simulated_candidates"] == 2)
        #expect(winner > 1.2 * pick, "Petals \(pick), chain \(winner)")
        #expect(ranked.statistics["simulated_refused_for_latency"] == 0)

        ranking.latencyBound = SimulatedRanking(simulation: ranking.simulation).latencyBound
        let bounded = Planner.simulatedRanking(ranking, problem, first: (petals, "petals baseline", judgedBest), climbEnds: [], judged: [(chain, "chain", judgedSecond)],
                                               always: [], judge: judge, options: options, clock: Clock())
        #expect(bounded.choice.1 == "petals baseline + unused nodes placed")
        #expect(bounded.statistics["simulated_refused_for_latency"] == 1)
        #expect((bounded.statistics["simulated_prompt_p50_s"] ?? 0) > 0)
    }

    /// Work-bounded, every ranked plan is simulated whatever the budget, so the plan is the same.
    @Test func aWorkBoundedRankingSimulatesEveryCandidate() throws {
        let (problem, ranking) = try Self.cluster10()
        let serving = try ServingModel(problem: problem, connectivity: .partial, profiles: GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory))
        func plan(_ budget: Double) -> SolveResult {
            var options = SolveOptions(method: .auto, connectivity: .partial, budgetSeconds: budget, seed: 5)
            options.maxEvaluations = 150
            options.use(.serving, serving: serving)
            options.simulatedRanking = ranking
            return Planner.solve(problem, options: options)
        }
        let tiny = plan(0.001), generous = plan(600)
        #expect(tiny.placement == generous.placement, "found by \(tiny.foundBy) / \(generous.foundBy)")
        #expect(tiny.statistics["simulated_candidates"] == Double(ranking.candidates))
        #expect(tiny.statistics["simulated_choice"] == generous.statistics["simulated_choice"])
        #expect((tiny.statistics["simulated_mean_decode_tokens_per_s"] ?? 0) > 0)
        // The plan carries the flow its routing figure was simulated over (the one the scheduler gets).
        let routed = try #require(tiny.routingFlow)
        #expect(tiny.runtimeFlow(problem).sameArcs(as: routed))
        let served = try ranking.simulation.simulate(tiny.placement, over: routed)
        #expect(tiny.statistics["simulated_routing_decode_tokens_per_s"] == served.decodeTokensPerSecond)
    }

    /// The winner routes over its maximum flow that served best, not over Dinic's by default.
    /// Session 15's cluster42 plan (`plan-s15-seed2`, helix-sim 735.6 over networkx's flow): over its
    /// first four flows our simulator gives 668.0 (Dinic's), 697.0, 698.2 and 762.5 decode tok/s
    /// (120 s, seed 1; over seeds 1-4 Dinic's 668.0-712.7, the fourth 762.5-781.8), so with two
    /// ranking flows and four in all the choice is the fourth, 14% above Dinic's.
    @Test func theWinnerRoutesOverItsBestServingFlow() throws {
        let problem = try TestData.problem("cluster42", reference: true)
        let placement = try LayoutFile.load(path: "\(HelixFidelityTests.results)/cluster42-plan-s15-seed2.layout.json", nodeCount: problem.nodes.count)
        var simulation = FlowRobustSimulation(problem: problem, connectivity: .partial, workload: try Workload.azureConversations(dataDirectory: TestData.directory),
                                              profiles: try GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory))
        simulation.flows = 2
        var ranking = SimulatedRanking(simulation: simulation)
        ranking.routingFlows = 4
        let outcome = ranking.rank([placement], threads: 2, clock: Clock(), deadline: .infinity, cancel: nil)
        let routing = try #require(outcome.routing)
        #expect(routing.simulated == 4)
        #expect(routing.index == 3, "chose flow \(routing.index) at \(routing.decodeTokensPerSecond)")
        let dinic = try #require(routing.dinicDecodeTokensPerSecond)
        #expect(routing.decodeTokensPerSecond > 1.1 * dinic, "\(routing.decodeTokensPerSecond) against Dinic's \(dinic)")
        #expect(!routing.flow.sameArcs(as: FlowScorer.runtimeFlow(problem, placement, .partial)))
    }

    /// `lattice plan` and placement-service set the ranking up alike (`SolveOptions.rank`): on by
    /// default for the serving objective, with the repository's Azure workload and the serving
    /// model's profiles; off with 0 candidates or the flow objective.
    @Test func theRankingIsOnByDefaultForServingPlansOnly() throws {
        let problem = try PlacementProblem.load(clusterPath: TestData.cluster10(), model: .llama1_30b, dataDirectory: TestData.directory, useReferenceTables: true)
        let model = try #require(ServingModel.forPlanning(problem: problem, connectivity: .partial, dataDirectory: TestData.directory))
        var options = SolveOptions(method: .auto, connectivity: .partial)
        options.use(.serving, serving: model)
        try options.rank(RankingSettings(), problem: problem, dataDirectory: TestData.directory)
        let ranking = try #require(options.simulatedRanking)
        #expect(ranking.candidates == 3)
        #expect(ranking.simulation.flows == 3)
        #expect(ranking.simulation.leavesOutJudgedFlow)
        #expect(ranking.simulation.judgedBy?.promptInterference == false, "the model the judge climbs (`ServingModel.climbed`)")
        #expect(ranking.simulation.config.measureSeconds == 120)
        #expect(ranking.simulation.workload.inputLengths == (try Workload.load(directory: TestData.directory + "/helix/workload")).inputLengths)
        #expect(Set(ranking.simulation.profiles.keys) == Set(problem.nodes.map(\.type)))

        try options.rank(RankingSettings(candidates: 2, flows: 1, measureSeconds: 30), problem: problem, dataDirectory: TestData.directory)
        #expect(options.simulatedRanking?.candidates == 2)
        #expect(options.simulatedRanking?.simulation.flows == 1)
        #expect(options.simulatedRanking?.simulation.config.measureSeconds == 30)
        try options.rank(RankingSettings(candidates: 0), problem: problem, dataDirectory: TestData.directory)
        #expect(options.simulatedRanking == nil)
        options.use(.flow, serving: model)
        try options.rank(RankingSettings(), problem: problem, dataDirectory: TestData.directory)
        #expect(options.simulatedRanking == nil)
        #expect(RankingSettings(candidates: -1).problem != nil)
        #expect(RankingSettings(flows: 0).problem != nil)
        #expect(RankingSettings(measureSeconds: 0).problem != nil)
        #expect(RankingSettings().problem == nil)
    }

    /// Session 13's live regression: on single24 with strict links and the bench's 12-evaluation
    /// cap, the judge picks the 24-GPU chain (flow 2045.6) and the ranking overruled it with the
    /// Petals baseline (952.1, ten T4s on a harmless range), which the live stack served at 731
    /// decode tok/s against the chain's 905. The ranking had simulated the trace's long queries
    /// (there Petals leads over a 120 s window), not the 256 / 64-token queries the bench sends,
    /// on which our simulator rates the chain far higher. Ranked for those queries, the chain stays.
    @Test func rankedForTheQueriesItServesTheStrictSingle24ChainStays() throws {
        let problem = try TestData.problem("single24")
        var options = SolveOptions(method: .auto, connectivity: .strict, budgetSeconds: 600)
        options.maxEvaluations = 12
        let chain = Planner.solve(problem, options: options)
        #expect(abs(chain.objective - 2045.64) < 0.01, "the judge's pick is the cover search's 24-GPU chain: \(chain.objective)")
        let model = try #require(ServingModel.forPlanning(problem: problem, connectivity: .strict, dataDirectory: TestData.directory))
        options.use(.serving, serving: model)
        // One flow each and a 60 s window keep the test short; the margin is wide (chain 622.8, Petals 488.9 at 120 s).
        try options.rank(RankingSettings(candidates: 2, flows: 1, measureSeconds: 60, maxPromptTokens: 256, maxOutputTokens: 64), problem: problem,
                         dataDirectory: TestData.directory)
        let ranking = try #require(options.simulatedRanking)
        #expect(ranking.simulation.workload.inputLengths.max() == 256)
        #expect(ranking.simulation.workload.outputLengths.max() == 64)
        let judge = try #require(Planner.judge(problem, options))
        let petals = Baselines.petals(problem)
        let ranked = Planner.simulatedRanking(ranking, problem, first: (chain.placement, "cover search", judge(chain.placement)), climbEnds: [], judged: [],
                                              always: [(petals, "petals baseline", judge(petals))], judge: judge, options: options, clock: Clock())
        let pick = ranked.statistics["simulated_judge_pick_mean_decode_tokens_per_s"] ?? 0
        let winner = ranked.statistics["simulated_mean_decode_tokens_per_s"] ?? 0
        #expect(ranked.statistics["simulated_candidates"] == 2)
        #expect(ranked.choice.0 == chain.placement, "chosen: \(ranked.choice.1); chain \(pick), winner \(winner)")
        #expect(ranked.statistics["simulated_choice"] == 0)
    }

    /// A challenger that serves more but waits longer than the judge's pick beyond the bound may
    /// not overrule it (session 13's geo24 plan: 1.26x Helix's layout at an 18% longer prompt p50);
    /// one within the bound still wins, and a slow pick is measured against, never refused.
    @Test func aChallengerSlowerThanThePickBeyondTheBoundIsRefused() {
        func serving(_ tokens: Double, prompt: Double, decode: Double) -> FlowRobustServing {
            FlowRobustServing(decodeTokensPerSecond: [tokens], promptP50: [prompt], decodeP50: [decode])
        }
        let pick = serving(600, prompt: 2.0, decode: 1.0)
        let slowPrompt = serving(700, prompt: 2.3, decode: 1.0), slowDecode = serving(700, prompt: 2.0, decode: 1.2)
        let withinBound = serving(700, prompt: 2.15, decode: 1.05)
        #expect(SimulatedRanking.refusedForLatency([pick, slowPrompt, slowDecode, withinBound], bound: 0.1) == [1, 2])
        #expect(SimulatedRanking.winner([pick, slowPrompt], tolerance: 0.01, refused: SimulatedRanking.refusedForLatency([pick, slowPrompt], bound: 0.1)) == 0)
        #expect(SimulatedRanking.winner([pick, slowPrompt], tolerance: 0.01) == 1, "without the bound the faster plan wins")
        #expect(SimulatedRanking.winner([pick, slowDecode, withinBound], tolerance: 0.01,
                                        refused: SimulatedRanking.refusedForLatency([pick, slowDecode, withinBound], bound: 0.1)) == 2)
        // Against a slow pick, quicker challengers are never refused, and the one that serves more wins.
        let slowPick = serving(600, prompt: 4.0, decode: 2.0)
        let quickButLess = serving(500, prompt: 1.0, decode: 0.5), quickAndMore = serving(700, prompt: 4.3, decode: 2.1)
        #expect(SimulatedRanking.refusedForLatency([slowPick, quickButLess, quickAndMore], bound: 0.1).isEmpty)
        #expect(SimulatedRanking.winner([slowPick, quickButLess, quickAndMore], tolerance: 0.01) == 2)
    }

    /// geo24, session 14: ranked, the planner's default command chose the Petals baseline with its
    /// unused nodes placed (17 slow links exposed) over the judge's pick (5): our simulator over
    /// Dinic's flow rates it higher, Helix's simulator 56.6 against 109.0 decode tok/s (both runs
    /// kept beside the layouts). A challenger exposing more slow links than the pick is refused.
    @Test func aChallengerExposingMoreSlowLinksThanThePickIsRefused() throws {
        let problem = try TestData.problem("geo24")
        let pick = try LayoutFile.load(path: "\(HelixFidelityTests.results)/geo24-plan-s14-default.layout.json", nodeCount: problem.nodes.count)
        let petals = try LayoutFile.load(path: "\(HelixFidelityTests.results)/geo24-plan-s14-rank3.layout.json", nodeCount: problem.nodes.count)
        let slowLinks = SlowLinks(problem: problem)
        #expect(slowLinks.exposed(pick, .partial, flows: FlowScorer.runtimeFlow(problem, pick, .partial)) == 5)
        #expect(slowLinks.exposed(petals, .partial, flows: FlowScorer.runtimeFlow(problem, petals, .partial)) == 17)
        #expect(SimulatedRanking.refusedForSlowLinks([5, 17, 5, 2]) == [1])

        var simulation = FlowRobustSimulation(problem: problem, connectivity: .partial, workload: try Workload.azureConversations(dataDirectory: TestData.directory),
                                              profiles: try GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory))
        simulation.flows = 1
        let outcome = SimulatedRanking(simulation: simulation).rank([pick, petals], threads: 2, clock: Clock(), deadline: .infinity, cancel: nil)
        let pickServes = try #require(outcome.serving[0]).mean, petalsServes = try #require(outcome.serving[1]).mean
        #expect(petalsServes > 1.05 * pickServes, "our simulator prefers the challenger (without the rule it would win): \(petalsServes) against \(pickServes)")
        #expect(outcome.refusedForSlowLinks == [1])
        #expect(outcome.winner == 0)
    }

    /// geo24's default plan queues prompts on slow links (`geo24-plan-s13-rank3`: Helix's simulator
    /// prompt p50 17.4 s against Helix's layout's 14.7 s; our simulator 16.2 against 11.0 over
    /// Dinic's flow), and the ranking had no quick plan to set against it. Without a reference one
    /// climb is held within the latencies of the quickest baseline (Petals on geo24), and its end is
    /// ranked; with a reference (the judge is bounded already), one thread, or no ranking, there is none.
    @Test func aClimbWithinTheQuickestBaselinesLatenciesIsRanked() throws {
        let problem = try TestData.problem("geo24", reference: true)
        let model = try #require(ServingModel.forPlanning(problem: problem, connectivity: .partial, dataDirectory: TestData.directory))
        var options = SolveOptions(method: .auto, connectivity: .partial, budgetSeconds: 600)
        options.maxEvaluations = 40
        options.use(.serving, serving: model)
        try options.rank(RankingSettings(flows: 1, measureSeconds: 30), problem: problem, dataDirectory: TestData.directory)
        let baselines = [Baselines.petals(problem), Baselines.swarm(problem), Baselines.separatePipelines(problem)]
        let judged = baselines.map { (placement: $0, origin: "baseline") }
        let quick = try #require(Planner.quickClimb(problem, options, baselines: baselines, ranked: true, judged: judged))
        let petals = model.climbed.predict(baselines[0])
        #expect(quick.bounds == LatencyBounds(promptSeconds: petals.promptLatencySeconds, decodeSeconds: petals.decodeLatencySeconds), "Petals is geo24's quickest baseline")
        #expect(quick.start.placement == baselines[0] && quick.start.score.withinBounds, "it starts within its bounds")
        #expect(Planner.quickClimb(problem, options, baselines: baselines, ranked: false, judged: judged) == nil)
        var single = options
        single.threads = 1
        #expect(Planner.quickClimb(problem, single, baselines: baselines, ranked: true, judged: judged) == nil)
        var referenced = options
        referenced.reference = baselines[0]
        #expect(Planner.quickClimb(problem, referenced, baselines: baselines, ranked: true, judged: judged) == nil)

        let phases = PhaseLog()
        options.progress = { phases.add($0.phase) }
        let plan = Planner.solve(problem, options: options)
        let ranked = phases.all.filter { $0.hasPrefix("simulated ") }
        #expect(ranked.contains { $0.contains("(latency-bounded ") }, "\(ranked)")
        #expect(plan.statistics["quick_baseline_prompt_bound_s"] == petals.promptLatencySeconds)
    }
}

/// Progress phases, from whichever thread reports them.
private final class PhaseLog: @unchecked Sendable {
    private let lock = NSLock()
    private var phases: [String] = []
    func add(_ phase: String) { lock.withLock { phases.append(phase) } }
    var all: [String] { lock.withLock { phases } }
}
