import Client
import ClusterLinks
import Foundation
import ServiceKit
import Tensor
import Wire
import WorkerCore

/// worker-service: a contiguous range of transformer layers and its KV cache.
@main
struct WorkerService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker-service", abstract: "Lattice worker service: a range of transformer layers and its KV cache.")
    @OptionGroup var options: ServiceOptions
    @Option(help: "Scheduler to register with, HOST:PORT. [env: LATTICE_SCHEDULER]")
    var scheduler: String?
    @Option(help: "cpu: model directory (config.json + safetensors); emulated: model name (llama2-70b, llama1-30b).")
    var model: String?
    @Option(help: "Compute backend: cpu or emulated.") var backend = "cpu"
    @Option(help: "Emulated backend: GPU type as the cluster files name it (A100-40G, L4, L4x2, T4, T4x2, T4x4, V100; any case; A100 for A100-40G).") var gpu = "T4"
    @Option(help: "Emulated backend: folder of the Helix profiles (default: $LATTICE_PROFILES, else the repository's Shared/Data/helix/profiles).")
    var profiles: String?
    @Option(help: "cpu: KV cache room in tokens (per layer held).") var kvTokens = 4096
    @Option(help: "KV cache block size in tokens.") var blockSize = 16
    @Option(help: "Most layers this worker holds (default: cpu the whole model, emulated the profile's limit).") var layerCapacity: Int?
    @Option(help: "Largest batch in tokens.") var maxBatchTokens = 512
    @Option(help: "Longest a batch waits for looping requests that trail it, seconds, so that a hop sends one Forward per step for all (default: cpu 0.1; emulated 0, a GPU runs what is queued at once).")
    var alignWait: Double?
    @Option(help: "BLAS threads.") var threads = 1
    @Option(help: "Worker id (default: worker-<pid>).") var workerId: String?
    @Option(help: "Address others reach this worker at, HOST:PORT (default: the listening address).") var advertise: String?
    @Option(help: "Without --model: the folder inside which a model_dir named by the scheduler or LoadLayers may lie. [env: LATTICE_MODEL_ROOT]")
    var modelRoot: String?
    @Option(help: "Emulated backend: what goes to the next stage in place of hidden states: declared (the shape alone; emulated links charge the real float16 size) or real (zeros of the real size, copied and sent). [env: LATTICE_EMULATED_PAYLOADS, default declared]")
    var payloads: String?
    @Option(help: "Emulate this worker's links to its peers from a cluster file (.ini from Helix, or .json; nodes named as the worker ids, as `lattice up --cluster` names them): hidden states and looped tokens sent to a peer wait for the declared bandwidth and latency.")
    var emulateLinks: String?

    func validate() throws {
        guard ["cpu", "emulated"].contains(backend) else { throw ValidationError("--backend must be cpu or emulated (got '\(backend)')") }
        guard kvTokens >= 1, blockSize >= 1, maxBatchTokens >= 1, threads >= 1 else {
            throw ValidationError("--kv-tokens, --block-size, --max-batch-tokens and --threads must be positive")
        }
        if let layerCapacity, layerCapacity < 1 { throw ValidationError("--layer-capacity must be at least 1") }
        if let alignWait, !(alignWait >= 0 && alignWait <= 10) { throw ValidationError("--align-wait must be 0 to 10 seconds") }
        _ = try emulatedPayloads()
    }

    /// --payloads, else $LATTICE_EMULATED_PAYLOADS (so that `lattice up` passes it on), else declared.
    func emulatedPayloads() throws -> EmulatedPayloads {
        let environment = ProcessInfo.processInfo.environment["LATTICE_EMULATED_PAYLOADS"].flatMap { $0.isEmpty ? nil : $0 }
        guard let text = payloads ?? environment else { return .declared }
        guard let value = EmulatedPayloads(rawValue: text.lowercased()) else {
            throw ValidationError("\(payloads != nil ? "--payloads" : "LATTICE_EMULATED_PAYLOADS") must be declared or real (got '\(text)')")
        }
        return value
    }

    func run() async throws {
        BLASThreads.reexecWithFastKernelsIfNeeded()
        let scheduler = try WorkerOptions.scheduler(flag: scheduler, environment: ProcessInfo.processInfo.environment)
        ComputeThreads.set(threads)
        let settings = StageSettings(
            backend: backend == "emulated" ? .emulated : .cpu, modelDir: backend == "cpu" ? model : nil,
            modelName: backend == "emulated" ? model : nil, gpu: gpu,
            profilesDirectory: profiles ?? GPUProfile.defaultProfilesDirectory() ?? "Shared/Data/helix/profiles", kvTokens: kvTokens, blockSize: blockSize,
            payloads: try emulatedPayloads())
        let (capacity, kvEntries) = try WorkerOptions.capacity(settings: settings, flag: layerCapacity)
        let id = workerId ?? "worker-\(getpid())"
        let profile = try WorkerOptions.measuredProfile(settings: settings, layers: capacity, kvEntries: kvEntries)
        let caps = try settings.batchCaps()
        let rootText = modelRoot ?? ProcessInfo.processInfo.environment["LATTICE_MODEL_ROOT"].flatMap { $0.isEmpty ? nil : $0 }
        let root: ModelRoot?
        do { root = try rootText.map(ModelRoot.init) } catch { throw ValidationError("--model-root: \(error)") }
        let models = ModelPolicy(ownModel: settings.modelDir != nil, root: root)
        let links: EmulatedLinks?
        do { links = try emulateLinks.map { try EmulatedLinks(worker: id, clusterFile: $0) } } catch { throw ValidationError("--emulate-links \(error)") }
        try await ServiceMain.run(.worker, options: options) { host in
            let stage = WorkerStage(settings: settings, workerID: id)
            let peers = PeerClients()
            let pipeline = ForwardPipeline(stage: stage, peers: peers, logger: host.logger, maxBatchTokens: maxBatchTokens,
                                           alignWait: alignWait ?? (backend == "emulated" ? 0 : 0.1), caps: caps, links: links,
                                           scheduler: scheduler)
            let destinations = ForwardGuard(scheduler: scheduler, peers: peers)
            WorkerHandlers.register(on: host, stage: stage, pipeline: pipeline, models: models, destinations: destinations)
            host.whenListening { _ in await pipeline.run() }
            host.logger.info("scheduler", metadata: ["address": "\(scheduler ?? "none")", "worker": "\(id)", "backend": "\(backend)"])
            if let profile {
                // What placement will weigh this worker by: per-layer milliseconds at each batch timed.
                func text(_ points: [LatencyPoint]) -> String { points.map { "\($0.tokens):\(String(format: "%.3f", $0.seconds * 1000))" }.joined(separator: " ") }
                host.logger.info("timed layers", metadata: ["threads": "\(threads)", "decode_ms_per_layer": "\(text(profile.decode))",
                                                             "prefill_ms_per_layer": "\(text(profile.prompt))"])
            }
            guard let scheduler else { return }
            host.whenStopping { deadline in await WorkerDrain(scheduler: scheduler, workerID: id, stage: stage, logger: host.logger).run(by: deadline) }
            host.whenListening { address in
                let registration = RegisterWorkerRequest(
                    workerID: id, address: advertise ?? WorkerOptions.reachable(address), backend: settings.backend.wire,
                    gpuType: settings.backend == .cpu ? "CPU" : EmulatedGPU.canonical(gpu) ?? gpu, memoryBytes: ProcessInfo.processInfo.physicalMemory,
                    layerCapacity: UInt32(capacity), kvCapacityEntries: UInt64(kvEntries), profile: profile)
                await SchedulerSession(scheduler: scheduler, registration: registration, stage: stage, models: models,
                                       destinations: destinations, logger: host.logger).run()
            }
        }
    }
}
