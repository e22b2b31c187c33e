import DataFiles
import Foundation
import enum PlacementCore.HelixConstants
import Tensor

/// A model the emulated backend can pretend to run (shapes only, no weights).
public struct EmulatedModel: Equatable, Sendable {
    public var name: String
    public var profileDirectory: String   // under profiles/
    public var tableKey: String           // in node_throughput_tables.json
    public var layerCount: Int
    public var hiddenSize: Int
    public var vocabSize: Int

    public static let known: [EmulatedModel] = [
        EmulatedModel(name: "llama2-70b", profileDirectory: "llama2_70b", tableKey: "LLaMa70B", layerCount: 80, hiddenSize: 8192, vocabSize: 32000),
        EmulatedModel(name: "llama1-30b", profileDirectory: "llama1_30b", tableKey: "LLaMa30B", layerCount: 60, hiddenSize: 6656, vocabSize: 32000),
    ]

    public static func named(_ name: String) throws -> EmulatedModel {
        let key = name.lowercased().replacingOccurrences(of: "_", with: "-")
        guard let model = known.first(where: { $0.name == key }) else {
            throw WorkerError.invalidArgument("unknown emulated model '\(name)'; known: \(known.map(\.name).joined(separator: ", "))")
        }
        return model
    }

    /// Bytes one token's hidden state takes on the wire (FP16).
    public var activationBytes: Int { hiddenSize * 2 }
}

/// Milliseconds to run one layer for a batch of N tokens, by linear interpolation between
/// measured rows (and extrapolation past the last two).
public struct LayerTimeCurve: Equatable, Sendable {
    public var points: [(tokens: Double, milliseconds: Double)]

    public static func == (a: LayerTimeCurve, b: LayerTimeCurve) -> Bool {
        a.points.map(\.tokens) == b.points.map(\.tokens) && a.points.map(\.milliseconds) == b.points.map(\.milliseconds)
    }

    public init(points: [(tokens: Double, milliseconds: Double)]) throws {
        let sorted = points.sorted { $0.tokens < $1.tokens }
        guard sorted.count >= 2 else { throw WorkerError.badModel("a layer-time profile needs at least two rows") }
        self.points = sorted
    }

    /// Parses "tokens,milliseconds" lines.
    public init(csv text: String, source: String) throws {
        var points: [(Double, Double)] = []
        for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, let tokens = Double(fields[0]), let ms = Double(fields[1]), tokens >= 0, ms >= 0 else {
                throw WorkerError.badModel("\(source):\(number + 1): expected 'tokens,milliseconds', got '\(line)'")
            }
            points.append((tokens, ms))
        }
        try self.init(points: points)
    }

    public func milliseconds(tokens: Int) -> Double {
        let x = Double(tokens)
        if x <= 0 { return 0 }
        var upper = points.firstIndex { $0.tokens >= x } ?? points.count - 1
        upper = max(upper, 1)
        let (x0, y0) = points[upper - 1], (x1, y1) = points[upper]
        guard x1 > x0 else { return y1 }
        return max(0, y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    }
}

/// Prompt and decode layer times of one GPU type for one model.
public struct GPUProfile: Equatable, Sendable {
    public var gpu: String
    public var model: EmulatedModel
    public var prompt: LayerTimeCurve
    public var decode: LayerTimeCurve
    /// KV capacity in token×layer entries by layers held, from node_throughput_tables.json when present.
    public var kvCapacityByLayers: [Int: Int]

    /// Reads `profilesDirectory/<model>/<folder>/{prompt,decode}_bs2time.csv` (and the capacity table
    /// beside them). `gpu` is a type as the cluster files name it (A100-40G, L4, T4x2, …; any case,
    /// short aliases such as A100) or a profile folder's name.
    public static func load(profilesDirectory: String, model: EmulatedModel, gpu: String) throws -> GPUProfile {
        let fm = FileManager.default
        let modelDir = (profilesDirectory as NSString).appendingPathComponent(model.profileDirectory)
        let available = ((try? fm.contentsOfDirectory(atPath: modelDir)) ?? []).sorted()
        let wanted = EmulatedGPU.profileFolder(gpu)
        guard let folder = available.first(where: { $0.lowercased() == wanted }) else {
            throw WorkerError.invalidArgument("no profile for GPU '\(gpu)' and \(model.name) in \(modelDir); known types: \(EmulatedGPU.names.joined(separator: ", ")); folders there: \(available.joined(separator: ", "))")
        }
        func curve(_ file: String) throws -> LayerTimeCurve {
            let path = ((modelDir as NSString).appendingPathComponent(folder) as NSString).appendingPathComponent(file)
            guard let data = fm.contents(atPath: path) else { throw WorkerError.badModel("cannot read \(path)") }
            return try LayerTimeCurve(csv: String(decoding: data, as: UTF8.self), source: path)
        }
        var capacity: [Int: Int] = [:]
        let tablePath = (profilesDirectory as NSString).appendingPathComponent("node_throughput_tables.json")
        if let data = fm.contents(atPath: tablePath),
           let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let clusters = root[model.tableKey] as? [String: Any] {
            for case let cluster as [String: Any] in clusters.values {
                guard let gpus = cluster["gpus"] as? [String: Any],
                      let entry = gpus.first(where: { $0.key.lowercased() == folder.lowercased() })?.value as? [String: Any],
                      let perLayer = entry["per_layer_count"] as? [String: Any] else { continue }
                for (k, value) in perLayer {
                    if let layers = Int(k), let row = value as? [String: Any], let kv = (row["kv_cache_capacity_tokens_x_layers"] as? NSNumber)?.intValue {
                        capacity[layers] = kv
                    }
                }
                break
            }
        }
        return GPUProfile(gpu: EmulatedGPU.canonical(gpu) ?? folder.uppercased(), model: model, prompt: try curve("prompt_bs2time.csv"),
                          decode: try curve("decode_bs2time.csv"), kvCapacityByLayers: capacity)
    }

    /// Seconds for `layers` layers over a batch with `promptTokens` prefill tokens and `decodeTokens`
    /// decode tokens; a lone decode as Helix's simulator and ours time it (`HelixConstants.decodeLayerTime`).
    public func batchSeconds(layers: Int, promptTokens: Int, decodeTokens: Int) -> Double {
        let decodeMilliseconds = HelixConstants.decodeLayerTime(profiled: decode.milliseconds(tokens: decodeTokens), decodes: decodeTokens)
        return Double(layers) * (prompt.milliseconds(tokens: promptTokens) + decodeMilliseconds) / 1000
    }
}

/// What an emulated stage passes the next stage in place of hidden states.
public enum EmulatedPayloads: String, Sendable, CaseIterable {
    /// The shape alone (`HiddenEncoding.declared`, no bytes): nothing to copy, send or page in,
    /// so that two dozen emulated GPUs fit one machine's CPUs; emulated links still charge the
    /// float16 size the tensor would have.
    case declared
    /// Zeros of the real size (hidden × 2 bytes per token): the transport carries what a GPU
    /// cluster's would, at the CPU and memory cost of copying it.
    case real
}

/// The emulated backend: no math, but the same contract as the CPU backend — validation,
/// KV block accounting, refusals — with the batch time of a real GPU from its profile and
/// hidden-state payloads of the real size, declared (the default) or carried (`EmulatedPayloads`).
public final class EmulatedStage: StageExecutor {
    public let profile: GPUProfile
    public let layers: Range<Int>
    public let cache: KVCache
    public let payloads: EmulatedPayloads
    private let sleep: @Sendable (Double) -> Void
    private var samplers: [UInt64: SeededGenerator] = [:]
    private var counters = (steps: 0, tokens: 0, seconds: 0.0, lastBatch: 0)

    public var totalLayers: Int { profile.model.layerCount }
    public var hiddenSize: Int { profile.model.hiddenSize }

    /// - Parameters:
    ///   - kvTokens: KV room in tokens per layer; nil takes the profile table's capacity for this many layers.
    ///   - sleep: how the stage spends the profile's time (tests pass a recorder).
    ///   - payloads: declared-size stand-ins (the default) or real-size zeros for the next stage.
    public init(profile: GPUProfile, layers: Range<Int>, kvTokens: Int? = nil, blockSize: Int = 16, payloads: EmulatedPayloads = .declared,
                sleep: @escaping @Sendable (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }) throws {
        guard layers.lowerBound >= 0, layers.upperBound <= profile.model.layerCount, !layers.isEmpty else {
            throw WorkerError.invalidArgument("layer range [\(layers.lowerBound), \(layers.upperBound)) is not inside \(profile.model.name)'s \(profile.model.layerCount) layers")
        }
        guard let tokens = kvTokens ?? profile.kvCapacityByLayers[layers.count].map({ $0 / layers.count }) else {
            throw WorkerError.invalidArgument("no KV capacity known for \(profile.gpu) holding \(layers.count) layers; pass the KV size in tokens")
        }
        self.profile = profile
        self.layers = layers
        self.payloads = payloads
        self.sleep = sleep
        cache = try KVCache(blockSize: blockSize, blockCount: max(1, tokens / blockSize), layerCount: layers.count,
                            kvWidth: 1, storesData: false)
    }

    public var stats: StageStats {
        StageStats(kvCapacityEntries: cache.capacityEntries, kvUsedEntries: cache.usedEntries, kvBlockSize: cache.blockSize,
                   freeTokens: cache.freeTokens, activeRequests: cache.requestCount, steps: counters.steps,
                   tokensProcessed: counters.tokens, busySeconds: counters.seconds, lastBatchTokens: counters.lastBatch, weightBytes: 0)
    }

    public func heldTokens(_ requestID: UInt64) -> Int { cache.heldTokens(requestID) }

    public func release(_ requestID: UInt64) {
        cache.release(requestID)
        samplers[requestID] = nil
    }

    public func step(_ batch: StepBatch) throws -> StepOutput {
        let growth = try batch.validateShape()
        var promptTokens = 0, decodeTokens = 0
        for entry in batch.entries {
            guard entry.position == cache.length(of: entry.requestID) else {
                throw WorkerError.invalidBatch("request \(entry.requestID): slice starts at \(entry.position) but \(cache.length(of: entry.requestID)) tokens are cached here")
            }
            if entry.tokenCount == 1 && entry.position > 0 { decodeTokens += 1 } else { promptTokens += entry.tokenCount }
        }
        switch batch.input {
        case .tokens(let ids):
            guard isFirst else { throw WorkerError.invalidBatch("this stage takes hidden states, not token ids") }
            guard ids.allSatisfy({ $0 >= 0 && Int($0) < profile.model.vocabSize }) else {
                throw WorkerError.invalidBatch("token ids must be in [0, \(profile.model.vocabSize))")
            }
        case .hidden(let states):
            guard !isFirst else { throw WorkerError.invalidBatch("the first stage takes token ids, not hidden states") }
            guard states.width == hiddenSize else {
                throw WorkerError.invalidBatch("hidden states are \(states.width) wide; \(profile.model.name)'s hidden size is \(hiddenSize)")
            }
        }
        try cache.reserve(growth)
        for (request, length) in growth { cache.setLength(length, of: request) }

        let seconds = profile.batchSeconds(layers: layers.count, promptTokens: promptTokens, decodeTokens: decodeTokens)
        let spent = batch.launched.map { ContinuousClock.now - $0 } ?? .zero
        sleep(max(0, seconds - Double(spent.components.seconds) - Double(spent.components.attoseconds) / 1e18))
        var output = StepOutput(hidden: nil, tokens: [], logits: [:], seconds: seconds)
        if isLast {
            for entry in batch.entries where entry.wantsToken {
                var rng = samplers[entry.requestID] ?? SeededGenerator(seed: entry.sampling.seed ^ (entry.requestID &* 0x9E37_79B9_7F4A_7C15))
                let token = Int32(rng.next() % UInt64(profile.model.vocabSize))
                samplers[entry.requestID] = rng
                output.tokens.append(SampledToken(requestID: entry.requestID, token: token, position: entry.position + entry.tokenCount))
            }
        } else if payloads == .declared {
            output.hidden = HiddenStates(rows: batch.tokenCount, width: hiddenSize, encoding: .declared, bytes: [])
        } else {
            output.hidden = HiddenStates(rows: batch.tokenCount, width: hiddenSize, encoding: .float16,
                                         bytes: [UInt8](repeating: 0, count: batch.tokenCount * profile.model.activationBytes))
        }
        counters.steps += 1
        counters.tokens += batch.tokenCount
        counters.seconds += seconds
        counters.lastBatch = batch.tokenCount
        return output
    }
}

extension GPUProfile {
    /// `$LATTICE_PROFILES`, else `helix/profiles` in the repository's data (found from the working
    /// directory or the executable; see DataFiles).
    public static func defaultProfilesDirectory() -> String? {
        if let fromEnvironment = ProcessInfo.processInfo.environment["LATTICE_PROFILES"], !fromEnvironment.isEmpty { return fromEnvironment }
        return DataFiles.directory(containing: "helix/profiles").map { $0 + "/helix/profiles" }
    }
}

/// Parses "start:end" (end exclusive) into a layer range.
public func parseLayerRange(_ text: String) throws -> Range<Int> {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, let start = Int(parts[0]), let end = Int(parts[1]), start >= 0, end > start else {
        throw WorkerError.invalidArgument("layer range '\(text)' must be START:END with 0 ≤ START < END, e.g. 0:12")
    }
    return start..<end
}
