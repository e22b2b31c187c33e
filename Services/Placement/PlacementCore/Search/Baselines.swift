/// The baselines of the Helix paper (spec §4), producing the same `Placement` as our solvers.
public enum Baselines {
    /// Petals-style: each node in turn (strongest first) takes the contiguous block of layers
    /// with the least serving capacity, as many layers as it can hold.
    public static func petals(_ problem: PlacementProblem) -> Placement {
        let L = problem.numLayers
        var capacity = [Double](repeating: 0, count: L)
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
        let order = problem.nodes.indices.sorted {
            let a = problem.nodes[$0], b = problem.nodes[$1]
            return a.throughput(layers: 1) != b.throughput(layers: 1) ? a.throughput(layers: 1) > b.throughput(layers: 1) : $0 < $1
        }
        for i in order {
            let k = min(L, problem.nodes[i].maxLayers)
            var bestStart = 0, bestSum = Double.infinity
            for s in 0...(L - k) {
                let sum = capacity[s..<(s + k)].reduce(0, +)
                if sum < bestSum - 1e-9 { bestSum = sum; bestStart = s }
            }
            ranges[i] = LayerRange(start: bestStart, end: bestStart + k)
            let t = problem.nodes[i].throughput(layers: k)
            for l in bestStart..<(bestStart + k) { capacity[l] += t }
        }
        return Placement(ranges: ranges)
    }

    /// Swarm-style: the model cut into equal stages (10 for 60 layers, 20 for 80; in general
    /// stages of about 4-6 layers), nodes packed greedily — each node, strongest first, joins the
    /// stage with the least throughput among those it can hold, taking as many whole stages as fit.
    public static func swarm(_ problem: PlacementProblem) -> Placement {
        let L = problem.numLayers
        let stageCount = L == 80 ? 20 : (L == 60 ? 10 : max(1, L / 4))
        let bounds = (0...stageCount).map { $0 * L / stageCount }
        var stageCapacity = [Double](repeating: 0, count: stageCount)
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
        let order = problem.nodes.indices.sorted { problem.nodes[$0].maxLayers * 1000 + $0 > problem.nodes[$1].maxLayers * 1000 + $1 }
        for i in order {
            let node = problem.nodes[i]
            // Stages this node can hold consecutively, starting at stage s.
            var best: (Int, Int)? = nil, bestCapacity = Double.infinity
            for s in 0..<stageCount {
                var e = s
                while e < stageCount && bounds[e + 1] - bounds[s] <= node.maxLayers { e += 1 }
                guard e > s else { continue }
                let cap = stageCapacity[s..<e].min() ?? 0
                if cap < bestCapacity - 1e-9 { bestCapacity = cap; best = (s, e) }
            }
            guard let (s, e) = best else { continue }
            let range = LayerRange(start: bounds[s], end: bounds[e])
            ranges[i] = range
            for stage in s..<e { stageCapacity[stage] += node.throughput(layers: range.count) }
        }
        return Placement(ranges: ranges)
    }

    /// Separate pipelines: one pipeline per GPU type, each splitting the model evenly over its nodes
    /// (a type too small to hold the model alone is left idle).
    public static func separatePipelines(_ problem: PlacementProblem) -> Placement {
        let L = problem.numLayers
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
        var leftovers: [Int] = []
        for type in Set(problem.nodes.map(\.type)).sorted() {
            let members = problem.nodes.indices.filter { problem.nodes[$0].type == type }
            let perNode = problem.nodes[members[0]].maxLayers
            let stages = perNode > 0 ? (L + perNode - 1) / perNode : Int.max
            let pipelines = perNode > 0 ? members.count / stages : 0
            guard pipelines > 0 else { leftovers += members; continue }
            let perPipeline = members.count / pipelines
            for p in 0..<pipelines {
                for stage in 0..<perPipeline {
                    ranges[members[p * perPipeline + stage]] = LayerRange(start: stage * L / perPipeline, end: (stage + 1) * L / perPipeline)
                }
            }
            leftovers += members.dropFirst(pipelines * perPipeline)
        }
        // Types too small for a pipeline of their own share mixed pipelines, layers split in
        // proportion to what each node holds.
        var pool = leftovers.sorted { problem.nodes[$0].maxLayers > problem.nodes[$1].maxLayers }
        while pool.reduce(0, { $0 + problem.nodes[$1].maxLayers }) >= L {
            var chosen: [Int] = [], held = 0
            // Take nodes alternately from the large and the small end until the model fits.
            while held < L, !pool.isEmpty {
                let i = chosen.count % 2 == 0 ? pool.removeFirst() : pool.removeLast()
                chosen.append(i)
                held += problem.nodes[i].maxLayers
            }
            var start = 0
            for (n, i) in chosen.enumerated() {
                let share = n == chosen.count - 1 ? L - start
                    : min(problem.nodes[i].maxLayers, max(1, Int((Double(problem.nodes[i].maxLayers) * Double(L) / Double(held)).rounded())))
                let count = min(share, L - start, problem.nodes[i].maxLayers)
                guard count > 0 else { break }
                ranges[i] = LayerRange(start: start, end: start + count)
                start += count
            }
            if start < L { for i in chosen { ranges[i] = nil }; break }
        }
        return Placement(ranges: ranges)
    }
}
