import Foundation

/// Per-type tables of the "typical throughput" model (spec §2): T(k), KV capacity and batch
/// figures for k = 1...maxLayers (arrays indexed k-1).
public struct TypeThroughput: Sendable, Equatable {
    public var type: String
    public var maxLayers: Int
    public var tokensPerSecond: [Double]
    public var kvCapacity: [Int]
    public var promptMaxRequests: [Int]
    public var promptTypicalRequests: [Double]
    public var promptTypicalTokens: [Int]
    public var decodeTypicalTokens: [Int]

    public func throughput(layers k: Int) -> Double { (1...maxLayers).contains(k) ? tokensPerSecond[k - 1] : 0 }
}

public enum ThroughputModel {
    /// Workload constants of the artifact's typical-throughput model.
    static let avgInput = 750.0, avgOutput = 240.0, kvHighWater = 0.3
    /// Rounds of the cluster-average estimate. The iteration does not settle for every mix
    /// (cluster42 keeps cycling), so the artifact's tables are its state after exactly ten rounds
    /// from its seeds below.
    static let estimateRounds = 10

    /// The artifact's seeds for the cluster-average per-layer time, per model (its model-statistics
    /// classes): typical layers per type, and starting "normalised performance" (= 1 / per-layer
    /// seconds, tokens/s x layers). They are the artifact's own inputs, not fitted to its output.
    struct EstimateSeeds { var typicalLayers: [String: Int]; var performance: [String: Double] }

    static let seeds: [String: EstimateSeeds] = [
        "llama2_70b": EstimateSeeds(typicalLayers: ["A100": 8, "V100": 3, "L4": 4, "L4x2": 9, "T4": 3, "T4x2": 6, "T4x4": 12],
                                    performance: ["A100": 80, "V100": 40, "L4": 20, "L4x2": 30, "T4": 12.5, "T4x2": 20, "T4x4": 30]),
        "llama1_30b": EstimateSeeds(typicalLayers: ["A100": 12, "V100": 4, "L4": 8, "L4x2": 14, "T4": 4, "T4x2": 10, "T4x4": 20],
                                    performance: ["A100": 48, "V100": 25, "L4": 9, "L4x2": 15, "T4": 8, "T4x2": 15, "T4x4": 23]),
    ]

    /// Typical layers per type: the seeds, or, when the mix would then hold fewer than 1.2 copies
    /// of the model, every type's maximum (as the artifact does). Types without a seed take 2/3 of
    /// their maximum.
    static func typicalLayers(model: ModelSpec, mix: [String: Int], maxLayers: [String: Int]) -> [String: Int] {
        let seeded = seeds[model.profileName]?.typicalLayers ?? [:]
        var typical = mix.keys.reduce(into: [String: Int]()) { result, type in
            let most = maxLayers[type] ?? 1
            result[type] = min(most, seeded[type] ?? max(1, (2 * most) / 3))
        }
        let capacity = mix.reduce(0) { $0 + $1.value * (typical[$1.key] ?? 0) }
        if Double(capacity) < Double(model.numLayers) * 1.2 {
            typical = mix.keys.reduce(into: [:]) { $0[$1] = maxLayers[$1] ?? 1 }
        }
        return typical
    }

    /// Tables for every type in the cluster's mix. T depends on the mix through the
    /// cluster-average per-layer time t̄, estimated by `estimateRounds` rounds of: per type,
    /// performance = T(typical layers) x typical layers under the previous round's t̄.
    public static func tables(model: ModelSpec, mix: [String: Int], profiles: [String: GPUProfile],
                              machines: [String: MachineType]) throws -> [String: TypeThroughput] {
        var profileOf: [String: GPUProfile] = [:]
        for type in mix.keys {
            guard let profile = profiles[type] else { throw PlacementError(field: "type", "no GPU profile for machine type '\(type)'") }
            profileOf[type] = profile
        }
        let maxLayers = mix.keys.reduce(into: [String: Int]()) { $0[$1] = profiles[$1]?.capacity.maxLayers ?? 0 }
        for (type, k) in maxLayers where k < 1 {
            throw PlacementError(field: "type", "machine type '\(type)' cannot hold a single layer of \(model.name)")
        }
        let typical = typicalLayers(model: model, mix: mix, maxLayers: maxLayers)
        let seeded = seeds[model.profileName]?.performance ?? [:]
        var perf: [String: Double] = [:]
        for (type, profile) in profileOf {
            let k = typical[type] ?? 1
            // No seed: start from the type's throughput with an even share of the model (k / L).
            perf[type] = seeded[type] ?? typicalBatch(layers: k, share: Double(k) / Double(model.numLayers), profile: profile).tokensPerSecond * Double(k)
        }
        for _ in 0..<estimateRounds {
            var next: [String: Double] = [:]
            for (type, profile) in profileOf {
                let k = typical[type] ?? 1
                let share = workShare(type: type, layers: k, model: model, mix: mix, typical: typical, perf: perf)
                next[type] = typicalBatch(layers: k, share: share, profile: profile).tokensPerSecond * Double(k)
            }
            perf = next
        }
        var result: [String: TypeThroughput] = [:]
        for (type, profile) in profileOf {
            let nicCap = machines[type].map { min($0.nicInBytesPerSecond, $0.nicOutBytesPerSecond) / model.activationSize } ?? .infinity
            var table = TypeThroughput(type: type, maxLayers: profile.capacity.maxLayers, tokensPerSecond: [], kvCapacity: [],
                                       promptMaxRequests: [], promptTypicalRequests: [], promptTypicalTokens: [], decodeTypicalTokens: [])
            for k in 1...profile.capacity.maxLayers {
                let share = workShare(type: type, layers: k, model: model, mix: mix, typical: typical, perf: perf)
                let t = typicalBatch(layers: k, share: share, profile: profile)
                table.tokensPerSecond.append(min(t.tokensPerSecond, nicCap))
                table.kvCapacity.append(profile.capacity.kvCapacity[min(k, profile.capacity.kvCapacity.count) - 1])
                table.promptMaxRequests.append(profile.capacity.promptMaxRequests[min(k, profile.capacity.promptMaxRequests.count) - 1])
                table.promptTypicalRequests.append(t.requests)
                table.promptTypicalTokens.append(t.promptTokens)
                table.decodeTypicalTokens.append(t.decodeTokens)
            }
            result[type] = table
        }
        return result
    }

    struct Typical { var tokensPerSecond: Double; var requests: Double; var promptTokens: Int; var decodeTokens: Int }

    /// Work share w = k t / (k t + (L - k) t̄): t = 1 / perf of this type, t̄ the layer-weighted
    /// average over the mix at typical layer counts.
    static func workShare(type: String, layers k: Int, model: ModelSpec, mix: [String: Int], typical: [String: Int],
                          perf: [String: Double]) -> Double {
        var sumTime = 0.0, sumLayers = 0.0
        for (t, n) in mix {
            let layers = Double(n * (typical[t] ?? 1))
            sumTime += layers / (perf[t] ?? 1)
            sumLayers += layers
        }
        let own = Double(k) / (perf[type] ?? 1)
        return own / (Double(model.numLayers - k) * (sumTime / sumLayers) + own)
    }

    /// The typical batch of a node holding k layers with work share w, and the tokens/s it sustains.
    static func typicalBatch(layers k: Int, share: Double, profile: GPUProfile) -> Typical {
        let kv = Double(profile.capacity.kvCapacity[min(k, profile.capacity.kvCapacity.count) - 1])
        let avail = (kvHighWater * kv / Double(k)).rounded(.towardZero)
        let seq = avgInput + avgOutput
        var requests = avail / seq * share / avgOutput
        var prompt = (requests * avgInput).rounded(.toNearestOrEven)
        var decode = (avail / seq * share).rounded(.toNearestOrEven)
        if requests > 1 { requests = 1; prompt = avgInput; decode = avgOutput }
        let tps: Double
        if requests >= 1 {
            tps = (prompt + decode) / (Double(k) * (profile.prompt.seconds(prompt) + profile.decode.seconds(decode)))
        } else if requests > 0 {
            let scale = 1 / requests
            let time = profile.prompt.seconds((prompt * scale).rounded(.towardZero)) + profile.decode.seconds(decode) * scale
            tps = scale * (prompt + decode) / (Double(k) * time)
        } else {
            tps = 0
        }
        return Typical(tokensPerSecond: tps, requests: requests, promptTokens: Int(prompt), decodeTokens: Int(decode))
    }
}
