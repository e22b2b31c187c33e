import Foundation

extension GPUProfile {
    /// The profile of a worker that timed itself on the model it serves: per-layer seconds for
    /// prefills of so many tokens and decode steps of so many sequences, the most layers it may
    /// hold and its KV room there (its T_i(k) is `TypeThroughput.measured`).
    /// KV room grows with the layers held (a CPU worker keeps a fixed number of tokens per layer).
    public static func measured(type: String, prompt: [(tokens: Int, seconds: Double)], decode: [(tokens: Int, seconds: Double)],
                                maxLayers: Int, kvEntriesAtMax: Int, model: ModelSpec) throws -> GPUProfile {
        for (name, points) in [("prompt", prompt), ("decode", decode)] {
            guard points.count >= 2, Set(points.map(\.tokens)).count == points.count,
                  points.allSatisfy({ $0.tokens >= 1 && $0.seconds > 0 && $0.seconds.isFinite }) else {
                throw PlacementError(field: "\(type).measured.\(name)", "needs at least two points with distinct positive token counts and positive finite seconds")
            }
        }
        guard maxLayers >= 1 else { throw PlacementError(field: "\(type).measured.max_layers", "must be at least 1") }
        guard kvEntriesAtMax >= maxLayers else {
            throw PlacementError(field: "\(type).measured.kv_capacity_entries", "must hold at least one token per layer (\(kvEntriesAtMax) for \(maxLayers) layers)")
        }
        let layers = min(maxLayers, model.numLayers)
        let perLayer = kvEntriesAtMax / maxLayers
        let capacity = GPUCapacityTable(maxLayers: layers, kvCapacity: (1...layers).map { $0 * perLayer },
                                        promptMaxRequests: Array(repeating: 1, count: layers))
        return GPUProfile(type: type, prompt: LatencyCurve(points: prompt), decode: LatencyCurve(points: decode), capacity: capacity)
    }
}

extension TypeThroughput {
    /// T(k) of a worker that timed itself: decode tokens/s at the largest measured batch its KV
    /// room takes with k layers (sequences of the workload's average length, at least one), that
    /// is b / (k · t(b)) from its own per-layer decode curve, capped by its NIC. (The typical-batch
    /// estimate used for GPU tables rounds a small KV room's share to zero requests.)
    public static func measured(_ profile: GPUProfile, model: ModelSpec, machine: MachineType) -> TypeThroughput {
        let nicCap = min(machine.nicInBytesPerSecond, machine.nicOutBytesPerSecond) / model.activationSize
        let sequenceTokens = ThroughputModel.avgInput + ThroughputModel.avgOutput
        let ks = Array(1...max(1, profile.capacity.maxLayers))
        let kv = ks.map { profile.capacity.kvCapacity[min($0, profile.capacity.kvCapacity.count) - 1] }
        let batches = ks.map { k -> Int in
            let sequences = max(1, Double(kv[k - 1]) / Double(k) / sequenceTokens)
            let sizes = profile.decode.points.map(\.tokens)
            return sizes.filter { Double($0) <= sequences }.max() ?? sizes.min() ?? 1
        }
        let tokensPerSecond = ks.map { k in
            min(Double(batches[k - 1]) / (Double(k) * profile.decode.seconds(Double(batches[k - 1]))), nicCap)
        }
        return TypeThroughput(type: profile.type, maxLayers: ks.count, tokensPerSecond: tokensPerSecond, kvCapacity: kv,
                              promptMaxRequests: profile.capacity.promptMaxRequests, promptTypicalRequests: ks.map { _ in 1 },
                              promptTypicalTokens: ks.map { _ in Int(ThroughputModel.avgInput) }, decodeTypicalTokens: batches)
    }
}
