import PlacementCore
import Wire

/// PlacementCore results → wire messages, with nodes named as the request named them.
extension PlacementProblem {
    func wireRanges(_ placement: Placement) -> [NodeRange] {
        placement.ranges.enumerated().compactMap { i, range in
            range.map { NodeRange(node: UInt32(i), nodeName: nodes[i].name, start: UInt32($0.start), end: UInt32($0.end)) }
        }
    }

    /// Arc flows with node names ("source", a node's name, "sink") and each arc's MILP capacity.
    func wireFlows(_ flows: FlowResult) -> [Wire.ArcFlow] {
        func name(_ text: String) -> String { Int(text).flatMap { nodes.indices.contains($0) ? nodes[$0].name : nil } ?? text }
        return flows.arcFlows.map { flow in
            let capacity = arcs.first { $0.from.description == flow.from && $0.to.description == flow.to }.map(milpCapacity) ?? 0
            return Wire.ArcFlow(fromNode: name(flow.from), toNode: name(flow.to), tokensPerSecond: flow.tokensPerSecond, capacityTokensPerSecond: capacity)
        }
    }

    func planResult(_ result: SolveResult, cancelled: Bool) -> PlanResult {
        let s = result.statistics
        func count(_ key: String) -> UInt64 { UInt64(max(0, s[key] ?? 0)) }
        let stop = result.provenOptimal ? "optimal" : (cancelled ? "cancelled" : "budget")
        let stats = SolveStats(
            solveSeconds: result.seconds, methodUsed: result.method.rawValue, stopReason: stop,
            milpNodes: count("milp_nodes"), lpIterations: count("lp_iterations"),
            heuristicMoves: count("evaluations") + count("polish_evaluations"),
            variables: UInt32(min(Double(UInt32.max), s["milp_columns"] ?? 0)), constraints: UInt32(min(Double(UInt32.max), s["milp_rows"] ?? 0)),
            linksPruned: UInt32(min(Double(UInt32.max), s["milp_pruned_arcs"] ?? 0)))
        // The scheduler routes over these flows: the runtime graph's (spec §3), the flow the
        // simulator routes over (the planner's choice where it simulated several), not the MILP
        // graph's flow the objective measures.
        let routed = result.runtimeFlow(self)
        return PlanResult(placement: wireRanges(result.placement), flows: wireFlows(routed),
                          objectiveTokensPerSecond: result.objective, upperBoundTokensPerSecond: result.upperBound,
                          gap: result.gap.isFinite ? result.gap : -1, stats: stats)
    }
}

extension SolveProgress {
    var wire: PlanProgress {
        PlanProgress(elapsedSeconds: elapsedSeconds, bestObjective: bestObjective, bound: bound, gap: gap.isFinite ? gap : -1, phase: phase)
    }
}

extension SimulationReport {
    func wire(layout: Layout) -> SimulateResponse {
        func summary(_ d: [String: Double]) -> LatencySummary {
            LatencySummary(count: UInt64(finishedRequests), meanSeconds: d["mean"] ?? 0, p50Seconds: d["p50"] ?? 0, p90Seconds: d["p90"] ?? 0,
                           p95Seconds: d["p95"] ?? 0, p99Seconds: d["p99"] ?? 0, maxSeconds: d["max"] ?? 0)
        }
        return SimulateResponse(decodeTokensPerSecond: decodeTokensPerSecond, promptTokensPerSecond: 0,
                                promptLatency: summary(promptLatency), decodeLatency: summary(decodeLatency),
                                requestsFinished: UInt64(finishedRequests), decodeTokens: 0,  // the core report gives the rate only
                                simulatedSeconds: simulatedSeconds, wallSeconds: wallSeconds, layout: layout)
    }
}
