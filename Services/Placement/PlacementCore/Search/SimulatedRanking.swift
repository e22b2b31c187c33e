import Foundation

/// The planner's last word among the serving judge's best plans: our simulator, over several
/// maximum flows of each plan (`FlowRobustSimulation`), ranks them by mean decode tokens/s.
///
/// Why: the judge (`ServingModel.climbed`) underestimates the decode step of shallow plans by
/// 2-17%, and rates each plan over one maximum flow, so its climb favours plans it over-rates and
/// plans whose one flow is lucky (session 12: cluster42's default plan, estimated 761.3, served
/// 571-625 in our simulator over four other maximum flows of its layout, 733.5 over ours). A
/// simulation takes about a second, too slow for the climb's thousands of judgements, fast enough
/// for a handful of finished plans.
public struct SimulatedRanking: Sendable {
    public var simulation: FlowRobustSimulation
    /// Plans simulated: the judge's pick, its next best, and the Petals baseline (`Planner.simulatedRanking`).
    public var candidates = 3
    /// The share of the budget the climb leaves for the simulations: on the two shared cores one
    /// cluster42 run took 2.5-3.6 s at load 9-15 (so 3 plans × 3 flows ~15 s on two threads) and
    /// the nine took 5 s at load 6-10.
    public var budgetShare = 0.25
    /// The least margin by which a plan must beat the judge's pick, and the band of ties among those
    /// that do: one plan's seed-to-seed spread in our simulator is ±0.7% (Helix's single24 layout,
    /// seeds 1-5; `Planner.servingTolerance`).
    public var tolerance = 0.01
    /// How much longer than the judge's pick's a challenger's mean prompt p50, or its mean decode
    /// p50, may be before it is refused (the issue asks for decode tokens/s at a latency bound, and
    /// latency no worse; `refusedForLatency`). 10%: above the few percent one plan's p50s move from
    /// flow to flow (single24's default plan this session: prompt p50 2.50-2.61 s over three
    /// flows), so plans are not refused for the flows drawn; below the 18% longer prompt p50 (17.4
    /// against 14.7 s in Helix's simulator) of session 13's geo24 plan, the kind of trade refused.
    public var latencyBound = 0.10
    /// Maximum flows of the winner simulated in all (its ranking runs count) to choose the one the
    /// plan routes over (`routing`): the live scheduler and the simulator follow the plan's flow,
    /// and which maximum flow IWRR follows moves a layout's serving more than the seed does
    /// (session 19, our simulator, cluster42 `plan-s15-seed2`, 120 s, seeds 1-4: eight flows from
    /// 641.5-664.7 to 762.5-781.8 decode tok/s, Dinic's 668.0-712.7, each flow's order the same
    /// over the seeds). Eight: about five more runs; one cluster42 run takes ~0.65 s on this
    /// 2-core machine (`simulate --max-flows 4`: 2.6 s), and the default cluster42 command with
    /// them took 52.4 s of its 58 s budget.
    public var routingFlows = 8

    public init(simulation: FlowRobustSimulation) { self.simulation = simulation }

    /// What ranking `placements` (the judge's order, best first) found: the winner's index and
    /// each plan's serving (nil where the deadline or a cancel left a run out, or a run failed).
    public struct Outcome: Sendable {
        public var winner: Int
        public var serving: [FlowRobustServing?]
        /// Plans refused for latency (`latencyBound`), by index.
        public var refusedForLatency: [Int]
        /// Plans refused for exposing more slow links than the pick (`refusedForSlowLinks`), by index.
        public var refusedForSlowLinks: [Int] = []
        /// The maximum flow of the winner the plan routes over (`routing`); nil where the winner was not simulated whole.
        public var routing: RoutingChoice? = nil
    }

    /// The winner's maximum flow that served best in our simulator, of those simulated.
    public struct RoutingChoice: Sendable {
        public var flow: FlowResult
        public var decodeTokensPerSecond: Double
        public var promptP50: Double
        public var decodeP50: Double
        /// Maximum flows simulated, and where this one came in their order (0: Dinic's).
        public var simulated: Int
        public var index: Int
        /// Dinic's flow's decode tokens/s when it was simulated (what routing over it would have given).
        public var dinicDecodeTokensPerSecond: Double?
    }

    /// Simulates every (plan, flow) pair, `threads` at a time, plan by plan in the judge's order,
    /// picks the winner, then the flow it routes over (`routing`). A run starts only while one more
    /// fits before `deadline`, and stops at it (infinite when work bounds the solve: the count of
    /// runs is then the work, so the answer does not depend on the machine).
    func rank(_ placements: [Placement], threads: Int, clock: Clock, deadline: Double, cancel: CancellationToken?) -> Outcome {
        let flows = placements.map { simulation.flowsToSimulate($0) }
        let jobs = flows.enumerated().flatMap { p, list in list.indices.map { (plan: p, flow: $0) } }
        let reports = simulate(jobs.map { (placements[$0.plan], flows[$0.plan][$0.flow]) }, threads: threads, clock: clock, deadline: deadline, cancel: cancel)
        let serving: [FlowRobustServing?] = placements.indices.map { p in
            let mine = jobs.indices.filter { jobs[$0].plan == p }.map { reports[$0] }
            guard !mine.isEmpty, mine.allSatisfy({ $0 != nil }) else { return nil }
            let done = mine.compactMap { $0 }
            return FlowRobustServing(decodeTokensPerSecond: done.map(\.decodeTokensPerSecond), promptP50: done.map { $0.promptLatency["p50"] ?? 0 },
                                     decodeP50: done.map { $0.decodeLatency["p50"] ?? 0 })
        }
        let refused = Self.refusedForLatency(serving, bound: latencyBound)
        let slowLinks = SlowLinks(problem: simulation.problem)
        let exposed = placements.map { slowLinks.exposed($0, simulation.connectivity, flows: FlowScorer.runtimeFlow(simulation.problem, $0, simulation.connectivity)) }
        let tooExposed = Self.refusedForSlowLinks(exposed)
        let winner = Self.winner(serving, tolerance: tolerance, refused: refused + tooExposed)
        var outcome = Outcome(winner: winner, serving: serving, refusedForLatency: refused, refusedForSlowLinks: tooExposed)
        if let ranked = serving[winner] {
            let runs = jobs.indices.filter { jobs[$0].plan == winner }.compactMap { j in reports[j].map { (flow: flows[winner][jobs[j].flow], report: $0) } }
            outcome.routing = routing(placements[winner], ranked: ranked, runs: runs, threads: threads, clock: clock, deadline: deadline, cancel: cancel)
        }
        return outcome
    }

    /// The flow the winner routes over: of its ranking runs and up to `routingFlows` maximum flows
    /// in all (Dinic's and the shuffled orders, `FlowScorer.runtimeFlows`; those the deadline
    /// leaves out are not run), the one with the most decode tokens/s whose prompt and decode p50
    /// stay within `latencyBound` of the winner's ranked means (the bound the ranking holds
    /// plans to). The layout was chosen on its mean over flows (robust to the router); the router
    /// is ours, so the plan names its best flow.
    func routing(_ placement: Placement, ranked: FlowRobustServing, runs: [(flow: FlowResult, report: SimulationReport)], threads: Int,
                 clock: Clock, deadline: Double, cancel: CancellationToken?) -> RoutingChoice? {
        let candidates = FlowScorer.runtimeFlows(simulation.problem, placement, simulation.connectivity, count: routingFlows)
        let extra = Array(candidates.filter { flow in !runs.contains { $0.flow.sameArcs(as: flow) } }.prefix(max(0, routingFlows - runs.count)))
        let reports = simulate(extra.map { (placement, $0) }, threads: threads, clock: clock, deadline: deadline, cancel: cancel)
        let all = runs + zip(extra, reports).compactMap { flow, report in report.map { (flow: flow, report: $0) } }
        let ordered = all.map { run in (run: run, index: candidates.firstIndex { $0.sameArcs(as: run.flow) } ?? candidates.count) }
        let within = ordered.filter {
            ($0.run.report.promptLatency["p50"] ?? 0) <= ranked.meanPromptP50 * (1 + latencyBound) && ($0.run.report.decodeLatency["p50"] ?? 0) <= ranked.meanDecodeP50 * (1 + latencyBound)
        }
        // Ties go to the earlier flow (Dinic's first), so the choice never depends on thread timing.
        guard let best = within.min(by: { a, b in
            a.run.report.decodeTokensPerSecond != b.run.report.decodeTokensPerSecond ? a.run.report.decodeTokensPerSecond > b.run.report.decodeTokensPerSecond : a.index < b.index
        }) else { return nil }
        return RoutingChoice(flow: best.run.flow, decodeTokensPerSecond: best.run.report.decodeTokensPerSecond, promptP50: best.run.report.promptLatency["p50"] ?? 0,
                             decodeP50: best.run.report.decodeLatency["p50"] ?? 0, simulated: all.count, index: best.index,
                             dinicDecodeTokensPerSecond: ordered.first { $0.index == 0 }?.run.report.decodeTokensPerSecond)
    }

    /// Simulates each (plan, flow) run, `threads` at a time, in order. A run starts only while one more
    /// fits before `deadline` (the slowest so far), and one the deadline or a cancel cuts short counts as not run (nil).
    func simulate(_ runs: [(Placement, FlowResult)], threads: Int, clock: Clock, deadline: Double, cancel: CancellationToken?) -> [SimulationReport?] {
        let results = RunBox(count: runs.count)
        let next = JobCounter()
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, runs.count))) { _ in
            while let j = next.take(below: runs.count) {
                if cancel?.isCancelled == true || clock.elapsed + results.slowest > deadline { return }
                let started = clock.elapsed
                let report = try? simulation.simulate(runs[j].0, over: runs[j].1) { cancel?.isCancelled == true || clock.elapsed > deadline }
                results.set(j, report, seconds: clock.elapsed - started)
            }
        }
        return results.values
    }

    /// The challengers (by index) whose mean prompt p50 or mean decode p50 exceeds the judge's
    /// pick's (index 0) by more than `bound` (a share): they may not overrule it. Measured against
    /// the pick, not the quickest plan: the judge already bounds the pick's latency (`LatencyBounds`
    /// with `--reference`), and under the artifact's KV-filling admission a plan that holds more
    /// requests waits longer per request, so against the quickest plan the bound refused cluster42's
    /// Petals plan (our simulator: 660.8 decode tok/s at decode p50 0.74 s against the pick's 596.4
    /// at 0.68 s and a third plan's 610.2 at 0.64 s), which Helix's simulator rates 1.14x Helix's
    /// layout at shorter latencies (decode p50 0.55 against 0.86 s; placement README, session 13).
    static func refusedForLatency(_ serving: [FlowRobustServing?], bound: Double) -> [Int] {
        guard let pick = serving.first ?? nil else { return [] }
        return serving.indices.dropFirst().filter { i in
            guard let s = serving[i] else { return false }
            return s.meanPromptP50 > pick.meanPromptP50 * (1 + bound) || s.meanDecodeP50 > pick.meanDecodeP50 * (1 + bound)
        }
    }

    /// The challengers (by index) that expose more slow links (`SlowLinks.exposed`, over each plan's
    /// Dinic flow) than the judge's pick: our simulator routes over flows that avoid such links, the
    /// Helix artifact's max-flow may not, so our simulator cannot see what they cost (geo24, Helix's
    /// simulator, 120 s: session 14's ranked plan, 17 exposed, 56.6 decode tok/s, which our simulator
    /// put at 90.2; the judge's pick, 5 exposed, 109.0, ours 53.9; session 8: 8.8 with every valid
    /// link, 117.3 with the 17 our flow used). None on clusters of one bandwidth (single24, cluster42).
    static func refusedForSlowLinks(_ exposed: [Int]) -> [Int] {
        guard let pick = exposed.first else { return [] }
        return exposed.indices.dropFirst().filter { exposed[$0] > pick }
    }

    /// The judge's pick (index 0) unless another plan's mean beats it by more than the noise of
    /// the comparison: `tolerance` of the pick's mean (seed to seed), or the standard error of the
    /// difference of the two means over their flows, whichever is larger. One plan serves 3-10%
    /// apart over two maximum flows (single24's judge pick: 272.2 to ~305 decode tokens/s), so a
    /// mean over three flows is that uncertain, and a plan that wins by less wins by the flows
    /// drawn. Of the plans that beat it and are not `refused` (`refusedForLatency`), the first (in
    /// the judge's order) within `tolerance` of the best mean. 0 too when the pick was not
    /// simulated whole.
    static func winner(_ serving: [FlowRobustServing?], tolerance: Double, refused: [Int] = []) -> Int {
        guard let pick = serving.first ?? nil else { return 0 }
        let beating = serving.indices.dropFirst().filter { i in
            guard let other = serving[i], !refused.contains(i) else { return false }
            let noise = max(tolerance * pick.mean, (pick.meanVariance + other.meanVariance).squareRoot())
            return other.mean - pick.mean > noise
        }
        guard let best = beating.compactMap({ serving[$0]?.mean }).max() else { return 0 }
        return beating.first { (serving[$0]?.mean ?? -.infinity) >= best * (1 - tolerance) } ?? 0
    }
}

/// Simulation reports by job, and the slowest run so far (to stop before the deadline).
private final class RunBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [SimulationReport?]
    private var slowestSeconds = 0.0
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ report: SimulationReport?, seconds: Double) {
        lock.withLock { storage[i] = report; slowestSeconds = max(slowestSeconds, seconds) }
    }
    var values: [SimulationReport?] { lock.withLock { storage } }
    var slowest: Double { lock.withLock { slowestSeconds } }
}

/// Hands out job indices in order, each once.
private final class JobCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    func take(below count: Int) -> Int? {
        lock.withLock {
            guard next < count else { return nil }
            defer { next += 1 }
            return next
        }
    }
}
