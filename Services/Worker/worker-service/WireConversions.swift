import Wire
import WorkerCore

// The one place where wire messages become WorkerCore values and back.

extension ComputeBackend {
    init(_ backend: Backend) { self = backend == .emulated ? .emulated : .cpu }
    var wire: Backend { self == .emulated ? .emulated : .cpu }
}

extension ForwardSlice {
    init(_ item: ForwardItem) {
        self.init(requestID: item.requestID, positions: item.positions, tokenIDs: item.tokenIDs,
                  hidden: item.hidden.map { Hidden(shape: $0.shape, encoding: HiddenEncoding($0.dtype), bytes: $0.data) },
                  layers: (item.start, item.end), nextHop: item.route.first.map { ($0.start, $0.end) }, replyTo: item.replyTo,
                  sampling: SamplingParameters(item.sampling), comesBack: !item.loop.isEmpty && item.step + 1 < UInt64(item.maxNewTokens))
    }
}

extension HiddenEncoding {
    init(_ dtype: DType) {
        switch dtype {
        case .float32: self = .float32
        case .float16: self = .float16
        case .declared: self = .declared
        }
    }

    var wire: DType {
        switch self {
        case .float32: .float32
        case .float16: .float16
        case .declared: .declared
        }
    }
}

extension Wire.HiddenStates {
    init(_ states: WorkerCore.HiddenStates) {
        self.init(data: states.bytes, dtype: states.encoding.wire, shape: [UInt32(states.rows), UInt32(states.width)])
    }

    /// Bytes these states take on a real link (what emulated links charge): a declared tensor's
    /// float16 size, else the bytes carried.
    var chargedBytes: Int {
        dtype == .declared ? shape.reduce(1) { $0 * Int($1) } * HiddenEncoding.float16.byteWidth : data.count
    }
}

extension SamplingParameters {
    /// No parameters, or greedy ones, sample by argmax; top_p 0 reads as 1.
    init(_ params: SamplingParams?) {
        guard let params, !params.greedy else { self = .greedy; return }
        self.init(temperature: params.temperature, topP: params.topP == 0 ? 1 : params.topP, seed: params.seed)
    }
}

extension ModelSummary {
    init(_ info: ModelInfo) { self.init(name: info.name, modelDir: info.modelDir) }
}

extension ModelInfo {
    init(_ model: ModelSummary) {
        self.init(name: model.name, modelDir: model.modelDir, numLayers: UInt32(model.layerCount), hiddenSize: UInt32(model.hiddenSize),
                  vocabSize: UInt32(model.vocabSize), numHeads: UInt32(model.headCount), numKVHeads: UInt32(model.kvHeadCount))
    }
}

extension LayerRange {
    init(_ layers: Range<Int>) { self.init(start: UInt32(layers.lowerBound), end: UInt32(layers.upperBound)) }
}

extension LoadLayersResult {
    init(_ loaded: WorkerStage.Loaded) {
        self.init(loaded: LayerRange(loaded.shape.layers), model: ModelInfo(loaded.model), weightBytes: UInt64(loaded.stats.weightBytes),
                  memoryBytes: UInt64(loaded.stats.weightBytes + loaded.stats.kvBytes), kvCapacityEntries: UInt64(loaded.stats.kvCapacityEntries),
                  loadSeconds: loaded.seconds, firstStage: loaded.shape.isFirst, lastStage: loaded.shape.isLast)
    }
}

extension WorkerStats {
    init(_ l: StageLedger) {
        self.init(layers: l.shape.map { LayerRange($0.layers) }, kvUsedEntries: UInt64(l.stats?.kvUsedEntries ?? 0),
                  kvCapacityEntries: UInt64(l.stats?.kvCapacityEntries ?? 0), activeRequests: UInt32(l.stats?.activeRequests ?? 0),
                  queuedItems: UInt32(max(0, l.queued)), meanBatchTokens: l.meanBatchTokens,
                  prefillTokensPerSecond: l.prefillTokensPerSecond, decodeTokensPerSecond: l.decodeTokensPerSecond,
                  forwardCalls: l.forwardCalls, forwardRejected: l.forwardRejected,
                  weightBytes: UInt64(l.stats?.weightBytes ?? 0), kvBytes: UInt64(l.stats?.kvBytes ?? 0))
    }
}

extension Status {
    init(_ refusal: ForwardRefusal) {
        switch refusal.kind {
        case .invalidArgument: self.init(.invalidArgument, refusal.message)
        case .failedPrecondition: self.init(.failedPrecondition, refusal.message)
        case .resourceExhausted: self.init(.resourceExhausted, refusal.message)
        case .unavailable: self.init(.unavailable, refusal.message)
        }
    }
}

extension WorkerStage {
    /// Loads layers for an RPC or a plan: a stage that cannot be built is the caller's bad argument.
    func load(_ range: Range<Int>, model: ModelInfo?, epoch: UInt64?, progress: @escaping @Sendable (Int, Int) -> Void) async throws -> LoadLayersResult {
        do {
            return LoadLayersResult(try await load(start: range.lowerBound, end: range.upperBound, model: model.map(ModelSummary.init),
                                                   epoch: epoch, progress: progress))
        } catch let error as WorkerError {
            throw Status(.invalidArgument, "LoadLayers [\(range.lowerBound), \(range.upperBound)): \(error.description)")
        }
    }

    var workerStats: WorkerStats { WorkerStats(ledger) }
}
