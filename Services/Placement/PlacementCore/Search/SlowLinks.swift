/// Slow node-to-node links a placement makes valid without our flow using them.
///
/// A layout is served by whoever routes it: the runtime's max-flow, or the Helix artifact's, which
/// may pick another maximum flow over every valid link. On geo24 a slow inter-region link (~12 MB/s,
/// where one mean prompt's activations take about a second) that our flow leaves unused but the
/// layout makes valid was routed over there: 8.8 decode tokens/s in the artifact's simulator with all
/// 45 valid links, 117.3 with only the 17 our flow used. So a plan must not expose such links.
public struct SlowLinks: Sendable {
    let problem: PlacementProblem
    /// Node-to-node arcs (from, to) slower than the threshold.
    let slow: [(from: Int, to: Int)]

    /// A link is slow below a tenth of the fastest node-to-node bandwidth (geo24: 11–14 MB/s between
    /// regions against 1.2–1.4 GB/s within; single24 and cluster42 have one bandwidth, so none).
    public init(problem: PlacementProblem) {
        self.problem = problem
        var nodeArcs: [(Int, Int, Double)] = []
        for arc in problem.arcs {
            if case .node(let i) = arc.from, case .node(let j) = arc.to { nodeArcs.append((i, j, arc.bandwidthBytesPerSecond)) }
        }
        let fastest = nodeArcs.map(\.2).max() ?? 0
        slow = nodeArcs.filter { $0.2 < fastest / 10 }.map { (from: $0.0, to: $0.1) }
    }

    /// Valid slow links of `placement` that `flows` (a runtime or MILP flow of it) leave unused and
    /// that some source→sink path could take (a link out of a node nothing can reach carries nothing).
    public func exposed(_ placement: Placement, _ connectivity: Connectivity, flows: FlowResult) -> Int {
        guard !slow.isEmpty else { return 0 }
        var used = Set<String>()
        for arc in flows.arcFlows { used.insert(arc.from + ">" + arc.to) }
        let (fromSource, toSink) = reach(placement, connectivity)
        var count = 0
        for (i, j) in slow where fromSource[i] && toSink[j] && !used.contains("\(i)>\(j)") {
            if let a = placement.ranges[i], let b = placement.ranges[j], connectivity.allows(a, b) { count += 1 }
        }
        return count
    }

    /// Nodes reachable from the source, and nodes that reach the sink, over the placement's valid arcs.
    func reach(_ placement: Placement, _ connectivity: Connectivity) -> (fromSource: [Bool], toSink: [Bool]) {
        let n = problem.nodes.count, L = problem.numLayers
        var forward = [[Int]](repeating: [], count: n), backward = [[Int]](repeating: [], count: n)
        var fromSource = [Bool](repeating: false, count: n), toSink = [Bool](repeating: false, count: n)
        var up: [Int] = [], down: [Int] = []
        for arc in problem.arcs {
            switch (arc.from, arc.to) {
            case (.source, .node(let j)) where placement.ranges[j]?.start == 0:
                if !fromSource[j] { fromSource[j] = true; up.append(j) }
            case (.node(let i), .sink) where placement.ranges[i]?.end == L:
                if !toSink[i] { toSink[i] = true; down.append(i) }
            case (.node(let i), .node(let j)):
                if let a = placement.ranges[i], let b = placement.ranges[j], connectivity.allows(a, b) { forward[i].append(j); backward[j].append(i) }
            default: break
            }
        }
        while let i = up.popLast() { for j in forward[i] where !fromSource[j] { fromSource[j] = true; up.append(j) } }
        while let j = down.popLast() { for i in backward[j] where !toSink[i] { toSink[i] = true; down.append(i) } }
        return (fromSource, toSink)
    }
}
