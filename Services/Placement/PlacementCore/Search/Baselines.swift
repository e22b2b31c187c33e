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

    /// Swarm-style, as the Helix artifact builds it: the model cut into equal disjoint stages (20
    /// for 80 layers, 10 for 60, else 4 layers each) and every node serving exactly one stage. Nodes
    /// go strongest first (throughput holding one stage; ties: the higher index first), each to the
    /// stage with the least throughput so far (ties: the earlier stage). A node that cannot hold a
    /// stage stays idle. This reproduces the published single24 and geo24 Swarm layouts exactly.
    public static func swarm(_ problem: PlacementProblem) -> Placement {
        let L = problem.numLayers
        let stageCount = L == 80 ? 20 : (L == 60 ? 10 : max(1, L / 4))
        let bounds = (0...stageCount).map { $0 * L / stageCount }
        var stageCapacity = [Double](repeating: 0, count: stageCount)
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
        let size = bounds[1] - bounds[0]
        let strength = problem.nodes.map { $0.maxLayers >= size ? $0.throughput(layers: size) : 0 }
        let order = problem.nodes.indices.sorted { strength[$0] != strength[$1] ? strength[$0] > strength[$1] : $0 > $1 }
        for i in order {
            let fits = (0..<stageCount).filter { bounds[$0 + 1] - bounds[$0] <= problem.nodes[i].maxLayers }
            guard let stage = fits.min(by: { stageCapacity[$0] < stageCapacity[$1] - 1e-9 || (abs(stageCapacity[$0] - stageCapacity[$1]) <= 1e-9 && $0 < $1) }) else { continue }
            ranges[i] = LayerRange(start: bounds[stage], end: bounds[stage + 1])
            stageCapacity[stage] += problem.nodes[i].throughput(layers: bounds[stage + 1] - bounds[stage])
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
