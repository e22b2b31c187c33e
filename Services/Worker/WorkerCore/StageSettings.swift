/// Which compute backend a worker serves with.
public enum ComputeBackend: String, Sendable {
    case cpu, emulated
}

/// What the worker serves with: a CPU model directory or an emulated GPU profile.
public struct StageSettings: Sendable {
    public var backend: ComputeBackend
    public var modelDir: String?          // cpu: --model DIR (overrides the scheduler's model_dir)
    public var modelName: String?         // emulated: --model NAME
    public var gpu: String                // emulated: --gpu
    public var profilesDirectory: String  // emulated: data/helix/profiles
    public var kvTokens: Int
    public var blockSize: Int
    /// emulated: what goes to the next stage in place of hidden states (--payloads).
    public var payloads: EmulatedPayloads

    public init(backend: ComputeBackend, modelDir: String?, modelName: String?, gpu: String, profilesDirectory: String,
                kvTokens: Int, blockSize: Int, payloads: EmulatedPayloads = .declared) {
        self.backend = backend
        self.modelDir = modelDir
        self.modelName = modelName
        self.gpu = gpu
        self.profilesDirectory = profilesDirectory
        self.kvTokens = kvTokens
        self.blockSize = blockSize
        self.payloads = payloads
    }

    /// Layers the worker can hold and its KV room there (token×layer entries), for registration.
    /// `layerLimit` (--layer-capacity) overrides what the model or profile allows.
    public func capacity(layerLimit: Int?) throws -> (layers: Int, kvEntries: Int) {
        switch backend {
        case .cpu:
            let layers = try layerLimit ?? modelDir.map { try WeightSources.open($0).config.layerCount } ?? 1024
            return (layers, kvTokens * layers)
        case .emulated:
            guard let modelName else { throw WorkerError.invalidArgument("--backend emulated needs --model NAME (llama2-70b or llama1-30b)") }
            let profile = try GPUProfile.load(profilesDirectory: profilesDirectory, model: try EmulatedModel.named(modelName), gpu: gpu)
            let layers = layerLimit ?? profile.kvCapacityByLayers.keys.max() ?? 1
            return (layers, profile.kvCapacityByLayers[layers] ?? kvTokens * layers)
        }
    }

    /// Builds the executor for layers [start, end). `model` is what the scheduler asked for
    /// (name and directory); the flags given to the worker win over it.
    func makeStage(start: Int, end: Int, model: ModelSummary?, progress: @escaping (Int, Int) -> Void) throws -> (any StageExecutor, ModelSummary) {
        guard start < end else { throw WorkerError.invalidArgument("the layer range is empty (start \(start), end \(end))") }
        let blocks = (kvTokens + blockSize - 1) / blockSize
        switch backend {
        case .cpu:
            guard let path = modelDir ?? model.flatMap({ $0.modelDir.isEmpty ? nil : $0.modelDir }) else {
                throw WorkerError.invalidArgument("no model directory: start the worker with --model DIR or give model_dir")
            }
            let directory = try WeightSources.open(path)
            let config = directory.config
            guard end <= config.layerCount else { throw WorkerError.invalidArgument("the model in \(path) has \(config.layerCount) layers") }
            let runner = try LayerRangeRunner(directory: directory, layers: start..<end, kvBlocks: blocks, blockSize: blockSize, progress: progress)
            runner.returnsLogits = runner.isLast   // for the logprob of each sampled token
            return (runner, ModelSummary(config: config, name: model?.name ?? "", directory: path))
        case .emulated:
            let emulated = try EmulatedModel.named(modelName ?? model?.name ?? "")
            let profile = try GPUProfile.load(profilesDirectory: profilesDirectory, model: emulated, gpu: gpu)
            // The profile table's KV room for this many layers, else --kv-tokens.
            let known = profile.kvCapacityByLayers[end - start] != nil
            let stage = try EmulatedStage(profile: profile, layers: start..<end, kvTokens: known ? nil : kvTokens, blockSize: blockSize, payloads: payloads)
            return (stage, ModelSummary(emulated: emulated))
        }
    }
}
