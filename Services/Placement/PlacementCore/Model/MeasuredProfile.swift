import Foundation

extension GPUProfile {
    /// The profile of a worker that timed itself on the model it serves: per-layer seconds for
    /// prefills of so many tokens and decode steps of so many sequences, the most layers it may
    /// hold and its KV room there. Placement then models it with the same T_i(k) as a GPU type.
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
