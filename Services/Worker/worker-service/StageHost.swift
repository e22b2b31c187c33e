import Foundation
import Logging
import ServiceKit
import Wire
import WorkerCore

/// What the worker serves with: a CPU model directory or an emulated GPU profile.
struct BackendSettings: Sendable {
    var backend: Backend
    var modelDir: String?          // cpu: --model DIR (overrides the scheduler's model_dir)
    var modelName: String?         // emulated: --model NAME
    var gpu: String                // emulated: --gpu
    var profilesDirectory: String  // emulated: data/helix/profiles
    var kvTokens: Int
    var blockSize: Int
}

/// The worker's loaded stage. The stage object lives on one serial compute queue; what the
/// RPC handlers check against (loaded range, shapes, per-request lengths, KV blocks) is kept
/// beside it under a lock, so that handlers never wait for a batch to finish.
final class StageHost: @unchecked Sendable {
    let queue = DispatchQueue(label: "lattice.worker.compute")
    private var stage: (any StageExecutor)?   // only touched on `queue`

    struct Shape: Sendable, Equatable {
        var layers: Range<Int>
        var totalLayers: Int
        var hiddenSize: Int
        var vocabSize: Int
        var blockSize: Int
        var totalBlocks: Int
        var model: ModelInfo
        var isFirst: Bool { layers.lowerBound == 0 }
        var isLast: Bool { layers.upperBound == totalLayers }
    }

    struct Ledger {
        var shape: Shape?
        var epoch: UInt64 = 0
        var lengths: [String: Int] = [:]        // tokens accepted per request key
        var ids: [String: UInt64] = [:]
        var nextID: UInt64 = 1
        var stats: StageStats?
        var forwardCalls: UInt64 = 0
        var forwardRejected: UInt64 = 0
        var batchTokens = 0
        var batches = 0
        var prefill = (tokens: 0, seconds: 0.0)
        var decode = (tokens: 0, seconds: 0.0)
        var queued = 0
    }
    private let lock = NSLock()
    private var ledger = Ledger()

    let settings: BackendSettings
    let workerID: String

    init(settings: BackendSettings, workerID: String) {
        self.settings = settings
        self.workerID = workerID
    }

    func withLedger<R>(_ body: (inout Ledger) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&ledger)
    }

    var shape: Shape? { withLedger { $0.shape } }
    var epoch: UInt64 { withLedger { $0.epoch } }
    func adopt(epoch: UInt64) { withLedger { $0.epoch = epoch } }

    // MARK: loading

    /// Loads layers [start, end) (replacing what was loaded; its requests are dropped).
    /// Runs on the compute queue; `progress` gets (layers done, layers total).
    func load(start: Int, end: Int, model: ModelInfo?, epoch: UInt64?, progress: @escaping @Sendable (Int, Int) -> Void) async throws -> LoadLayersResult {
        let settings = self.settings
        let began = Date()
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    let (stage, info) = try Self.makeStage(settings: settings, start: start, end: end, model: model, progress: progress)
                    self.stage = stage
                    let stats = stage.stats
                    let shape = Shape(layers: stage.layers, totalLayers: stage.totalLayers, hiddenSize: stage.hiddenSize,
                                      vocabSize: Int(info.vocabSize), blockSize: stats.kvBlockSize,
                                      totalBlocks: stats.kvCapacityEntries / max(1, stats.kvBlockSize * stage.layers.count), model: info)
                    self.withLedger { l in
                        l.shape = shape
                        l.lengths = [:]
                        l.ids = [:]
                        l.stats = stats
                        if let epoch { l.epoch = epoch }
                    }
                    continuation.resume(returning: LoadLayersResult(
                        loaded: LayerRange(start: UInt32(start), end: UInt32(end)), model: info, weightBytes: UInt64(stats.weightBytes),
                        memoryBytes: UInt64(stats.weightBytes + stats.kvBytes),
                        kvCapacityEntries: UInt64(stats.kvCapacityEntries), loadSeconds: Date().timeIntervalSince(began),
                        firstStage: shape.isFirst, lastStage: shape.isLast))
                } catch let error as WorkerError {
                    continuation.resume(throwing: Status(.invalidArgument, "LoadLayers [\(start), \(end)): \(error.description)"))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private static func makeStage(settings: BackendSettings, start: Int, end: Int, model: ModelInfo?,
                                  progress: @escaping (Int, Int) -> Void) throws -> (any StageExecutor, ModelInfo) {
        guard start < end else { throw WorkerError.invalidArgument("the layer range is empty (start \(start), end \(end))") }
        let blocks = (settings.kvTokens + settings.blockSize - 1) / settings.blockSize
        switch settings.backend {
        case .cpu:
            guard let path = settings.modelDir ?? model.flatMap({ $0.modelDir.isEmpty ? nil : $0.modelDir }) else {
                throw WorkerError.invalidArgument("no model directory: start the worker with --model DIR or give model_dir")
            }
            let directory = try ModelDirectory(path: path)
            let config = directory.config
            guard end <= config.layerCount else { throw WorkerError.invalidArgument("the model in \(path) has \(config.layerCount) layers") }
            let runner = try LayerRangeRunner(directory: directory, layers: start..<end, kvBlocks: blocks, blockSize: settings.blockSize, progress: progress)
            runner.returnsLogits = runner.isLast   // for the logprob of each sampled token
            return (runner, ModelDescription.info(config: config, name: model?.name ?? "", directory: path))
        case .emulated:
            let name = settings.modelName ?? model?.name ?? ""
            let emulated = try EmulatedModel.named(name)
            let profile = try GPUProfile.load(profilesDirectory: settings.profilesDirectory, model: emulated, gpu: settings.gpu)
            // The profile table's KV room for this many layers, else --kv-tokens.
            let known = profile.kvCapacityByLayers[end - start] != nil
            let stage = try EmulatedStage(profile: profile, layers: start..<end, kvTokens: known ? nil : settings.kvTokens, blockSize: settings.blockSize)
            return (stage, ModelDescription.info(emulated: emulated))
        }
    }

    // MARK: requests

    /// Checks a Forward item against the loaded stage and reserves its KV room; throws the
    /// Status the caller answers with. Nothing changes when it throws.
    func admit(_ items: [ForwardItem]) throws -> [UInt64] {
        try withLedger { l in
            l.forwardCalls += 1
            do {
                try Self.check(items, ledger: l, workerID: workerID)
                for item in items {
                    l.lengths[item.requestID] = Int(item.positions[0]) + item.positions.count
                    if l.ids[item.requestID] == nil { l.ids[item.requestID] = l.nextID; l.nextID += 1 }
                }
                l.queued += items.count
                return items.compactMap { l.ids[$0.requestID] }
            } catch {
                l.forwardRejected += 1
                throw error
            }
        }
    }

    private static func check(_ items: [ForwardItem], ledger l: Ledger, workerID: String) throws {
        guard let shape = l.shape else {
            throw Status(.failedPrecondition, "worker/Forward: worker \(workerID) has no layers loaded yet; wait for its plan assignment or call worker/LoadLayers")
        }
        guard !items.isEmpty else { throw Status(.invalidArgument, "worker/Forward: the request has no items") }
        var seen = Set<String>()
        var newBlocks = 0
        let held = l.lengths.values.reduce(0) { $0 + ($1 + shape.blockSize - 1) / shape.blockSize }
        for (index, item) in items.enumerated() {
            let at = "worker/Forward item \(index) (request '\(item.requestID)')"
            guard !item.requestID.isEmpty else { throw Status(.invalidArgument, "\(at): request_id is empty") }
            guard seen.insert(item.requestID).inserted else { throw Status(.invalidArgument, "\(at): the request appears twice in one Forward") }
            guard Int(item.start) == shape.layers.lowerBound, Int(item.end) == shape.layers.upperBound else {
                throw Status(.failedPrecondition, "\(at): asks for layers [\(item.start), \(item.end)) but worker \(workerID) holds [\(shape.layers.lowerBound), \(shape.layers.upperBound))")
            }
            let n = item.positions.count
            guard n > 0 else { throw Status(.invalidArgument, "\(at): positions is empty") }
            for (i, p) in item.positions.enumerated() where Int(p) != Int(item.positions[0]) + i {
                throw Status(.invalidArgument, "\(at): positions must be consecutive (position \(i) is \(p))")
            }
            if shape.isFirst {
                guard item.tokenIDs.count == n, item.hidden == nil || item.hidden?.data.isEmpty == true else {
                    throw Status(.invalidArgument, "\(at): the first stage takes \(n) token_ids (one per position) and no hidden states; got \(item.tokenIDs.count) ids")
                }
                if let bad = item.tokenIDs.first(where: { Int($0) >= shape.vocabSize }) {
                    throw Status(.invalidArgument, "\(at): token id \(bad) is outside the vocabulary [0, \(shape.vocabSize))")
                }
            } else {
                guard item.tokenIDs.isEmpty, let hidden = item.hidden else {
                    throw Status(.invalidArgument, "\(at): this stage starts at layer \(shape.layers.lowerBound) and takes hidden states, not token ids")
                }
                let width = hidden.dtype == .float16 ? 2 : 4
                guard hidden.shape == [UInt32(n), UInt32(shape.hiddenSize)], hidden.data.count == n * shape.hiddenSize * width else {
                    throw Status(.invalidArgument, "\(at): hidden states must have shape [\(n), \(shape.hiddenSize)] and \(n * shape.hiddenSize * width) bytes; got shape \(hidden.shape) and \(hidden.data.count) bytes")
                }
            }
            if shape.isLast {
                guard !item.replyTo.isEmpty else { throw Status(.invalidArgument, "\(at): reply_to is empty; the last stage needs the address to send tokens to") }
            } else {
                guard let next = item.route.first else {
                    throw Status(.invalidArgument, "\(at): route is empty but this stage ends at layer \(shape.layers.upperBound) of \(shape.totalLayers); name the next hop")
                }
                guard Int(next.start) == shape.layers.upperBound, next.end > next.start else {
                    throw Status(.invalidArgument, "\(at): the next hop runs [\(next.start), \(next.end)) but this stage ends at \(shape.layers.upperBound)")
                }
            }
            let cached = l.lengths[item.requestID] ?? 0
            guard Int(item.positions[0]) == cached else {
                throw Status(.failedPrecondition, "\(at): starts at position \(item.positions[0]) but \(cached) tokens are cached here; positions must continue the cached sequence")
            }
            let length = cached + n
            newBlocks += (length + shape.blockSize - 1) / shape.blockSize - (cached + shape.blockSize - 1) / shape.blockSize
        }
        guard held + newBlocks <= shape.totalBlocks else {
            throw Status(.resourceExhausted, "worker/Forward: KV cache of worker \(workerID) is full: the batch needs \(newBlocks) more blocks of \(shape.blockSize) tokens, \(shape.totalBlocks - held) are free; release finished requests or route elsewhere")
        }
    }

    /// Frees requests' KV here; returns how many held any, and the entries in use after.
    func release(_ keys: [String]) async -> (released: Int, used: UInt64) {
        await withCheckedContinuation { continuation in
            queue.async {
                let ids = self.withLedger { l -> [UInt64] in
                    let ids = keys.compactMap { l.ids.removeValue(forKey: $0) }
                    for key in keys { l.lengths[key] = nil }
                    return ids
                }
                for id in ids { self.stage?.release(id) }
                let stats = self.stage?.stats
                self.withLedger { if let stats { $0.stats = stats } }
                continuation.resume(returning: (ids.count, UInt64(stats?.kvUsedEntries ?? 0)))
            }
        }
    }

    /// Runs one batch on the compute queue.
    func step(_ batch: StepBatch) async -> Result<StepOutput, WorkerError> {
        await withCheckedContinuation { continuation in
            queue.async {
                guard let stage = self.stage else {
                    continuation.resume(returning: .failure(.invalidBatch("no layers loaded")))
                    return
                }
                let result: Result<StepOutput, WorkerError>
                do { result = .success(try stage.step(batch)) } catch let error as WorkerError { result = .failure(error) } catch {
                    result = .failure(.invalidBatch("\(error)"))
                }
                let stats = stage.stats
                self.withLedger { l in
                    l.stats = stats
                    if case .success(let output) = result {
                        l.batches += 1
                        l.batchTokens += batch.tokenCount
                        let decode = batch.entries.allSatisfy { $0.tokenCount == 1 && $0.position > 0 }
                        if decode { l.decode.tokens += batch.tokenCount; l.decode.seconds += output.seconds }
                        else { l.prefill.tokens += batch.tokenCount; l.prefill.seconds += output.seconds }
                    }
                }
                continuation.resume(returning: result)
            }
        }
    }

    /// Drops a failed request's KV here (the scheduler re-routes it).
    func discard(_ key: String) async { _ = await release([key]) }

    /// The WorkerStats figures of this moment.
    var workerStats: WorkerStats {
        withLedger { l in
            WorkerStats(layers: l.shape.map { LayerRange(start: UInt32($0.layers.lowerBound), end: UInt32($0.layers.upperBound)) },
                        kvUsedEntries: UInt64(l.stats?.kvUsedEntries ?? 0), kvCapacityEntries: UInt64(l.stats?.kvCapacityEntries ?? 0),
                        activeRequests: UInt32(l.stats?.activeRequests ?? 0), queuedItems: UInt32(max(0, l.queued)),
                        meanBatchTokens: l.batches > 0 ? Double(l.batchTokens) / Double(l.batches) : 0,
                        prefillTokensPerSecond: l.prefill.seconds > 0 ? Double(l.prefill.tokens) / l.prefill.seconds : 0,
                        decodeTokensPerSecond: l.decode.seconds > 0 ? Double(l.decode.tokens) / l.decode.seconds : 0,
                        forwardCalls: l.forwardCalls, forwardRejected: l.forwardRejected)
        }
    }
}

/// ModelInfo for a model the worker can load.
enum ModelDescription {
    static func info(config: LlamaConfig, name: String, directory: String) -> ModelInfo {
        ModelInfo(name: name.isEmpty ? (directory as NSString).lastPathComponent : name, modelDir: directory,
                  numLayers: UInt32(config.layerCount), hiddenSize: UInt32(config.hiddenSize), vocabSize: UInt32(config.vocabSize),
                  numHeads: UInt32(config.headCount), numKVHeads: UInt32(config.kvHeadCount))
    }

    static func info(emulated: EmulatedModel) -> ModelInfo {
        ModelInfo(name: emulated.name, numLayers: UInt32(emulated.layerCount), hiddenSize: UInt32(emulated.hiddenSize),
                  vocabSize: UInt32(emulated.vocabSize))
    }
}
