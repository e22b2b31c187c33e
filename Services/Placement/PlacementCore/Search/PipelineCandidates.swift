/// Whole-layout starting points for the serving judge: the GPUs split into p disjoint pipelines.
///
/// Single moves from a flow-found layout rarely change how many pipelines there are or how deep
/// they run, which is what the serving model (KV room per pipeline over its round trip) rewards;
/// these re-pack the cluster wholesale. For each p, nodes go strongest first to the pipeline with
/// the least speed so far (links are not considered: the judge scores every candidate), and each
/// pipeline splits the model over its nodes in proportion to speed, within what each node holds.
enum PipelineCandidates {
    static func all(_ problem: PlacementProblem, maxPipelines: Int = 8) -> [(placement: Placement, origin: String)] {
        let n = problem.nodes.count
        // A node's speed: layer-tokens per second when it holds as many layers as it can.
        let speed = problem.nodes.map { node in node.maxLayers > 0 ? node.throughput(layers: node.maxLayers) * Double(node.maxLayers) : 0 }
        let order = problem.nodes.indices.filter { speed[$0] > 0 }.sorted { speed[$0] != speed[$1] ? speed[$0] > speed[$1] : $0 < $1 }
        var out: [(Placement, String)] = []
        for p in 1...max(1, min(maxPipelines, n)) {
            var members = [[Int]](repeating: [], count: p), total = [Double](repeating: 0, count: p)
            for i in order {
                guard let k = total.indices.min(by: { total[$0] < total[$1] || (total[$0] == total[$1] && $0 < $1) }) else { continue }
                members[k].append(i)
                total[k] += speed[i]
            }
            var ranges = [LayerRange?](repeating: nil, count: n)
            var complete = true
            for pipeline in members {
                guard let counts = split(problem.numLayers, over: pipeline.map { (speed[$0], problem.nodes[$0].maxLayers) }) else { complete = false; break }
                var start = 0
                for (i, count) in zip(pipeline, counts) where count > 0 {
                    ranges[i] = LayerRange(start: start, end: start + count)
                    start += count
                }
            }
            if complete { out.append((Placement(ranges: ranges), "\(p) pipelines")) }
        }
        return out
    }

    /// Layer counts summing to `layers`, proportional to speed and at most each node's maximum
    /// (water-filling, then the remainder to the largest fractions with room). Nil if they cannot hold it.
    static func split(_ layers: Int, over nodes: [(speed: Double, maxLayers: Int)]) -> [Int]? {
        guard nodes.reduce(0, { $0 + $1.maxLayers }) >= layers else { return nil }
        var share = [Double](repeating: 0, count: nodes.count)
        var capped = Set<Int>()
        var left = Double(layers)
        while true {
            let free = nodes.indices.filter { !capped.contains($0) }
            let speed = free.reduce(0) { $0 + nodes[$1].speed }
            guard speed > 0 else { break }
            var newlyCapped = false
            for i in free {
                share[i] = left * nodes[i].speed / speed
                if share[i] > Double(nodes[i].maxLayers) { share[i] = Double(nodes[i].maxLayers); capped.insert(i); left -= share[i]; newlyCapped = true }
            }
            if !newlyCapped { break }
        }
        var counts = share.map { Int($0) }
        var remainder = layers - counts.reduce(0, +)
        for i in nodes.indices.sorted(by: { share[$0] - Double(counts[$0]) > share[$1] - Double(counts[$1]) }) where remainder > 0 && counts[i] < nodes[i].maxLayers {
            counts[i] += 1
            remainder -= 1
        }
        return remainder == 0 ? counts : nil
    }
}
