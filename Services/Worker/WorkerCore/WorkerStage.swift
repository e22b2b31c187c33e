import Foundation

/// The one handle worker-service holds: the loaded stage on a serial compute queue (one batch
/// at a time, as on a real accelerator), and beside it, under a lock, the ledger that Forward
/// is checked against — so that admitting work and reading stats never wait for a batch.
public final class WorkerStage: @unchecked Sendable {
    private let queue = DispatchQueue(label: "lattice.worker.compute")
    private var executor: (any StageExecutor)?   // only touched on `queue`
    private let lock = NSLock()
    private var state = StageLedger()           // only touched under `lock`

    public let settings: StageSettings
    public let workerID: String

    public init(settings: StageSettings, workerID: String) {
        self.settings = settings
        self.workerID = workerID
    }

    /// A copy of the ledger at this moment (shape, epoch, counters, stage stats).
    public var ledger: StageLedger { lock.withLock { state } }
    public var shape: StageShape? { ledger.shape }
    public var epoch: UInt64 { ledger.epoch }
    public func adopt(epoch: UInt64) { lock.withLock { state.adopt(epoch: epoch) } }

    /// Takes the scheduler's assignment: the range to load now, if any (see `StageLedger.follow`).
    /// Call `assignmentLoadEnded()` when that load has finished or failed.
    public func follow(_ assignment: Range<Int>, epoch: UInt64) -> Range<Int>? {
        lock.withLock { state.follow(assignment, epoch: epoch) }
    }

    public func assignmentLoadEnded() { lock.withLock { state.assignmentLoadEnded() } }

    /// What a load produced.
    public struct Loaded: Sendable {
        public var shape: StageShape
        public var model: ModelSummary
        public var stats: StageStats
        public var seconds: Double
    }

    /// Loads layers [start, end), replacing what was loaded (its requests are dropped). Runs on
    /// the compute queue; `progress` gets (layers done, layers total). Throws `WorkerError`.
    public func load(start: Int, end: Int, model: ModelSummary?, epoch: UInt64?,
                     progress: @escaping @Sendable (Int, Int) -> Void) async throws -> Loaded {
        let began = Date()
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    let (stage, summary) = try self.settings.makeStage(start: start, end: end, model: model, progress: progress)
                    self.executor = stage
                    let stats = stage.stats
                    let shape = StageShape(layers: stage.layers, totalLayers: stage.totalLayers, hiddenSize: stage.hiddenSize,
                                           vocabSize: summary.vocabSize, blockSize: stats.kvBlockSize,
                                           totalBlocks: stats.kvCapacityEntries / max(1, stats.kvBlockSize * stage.layers.count))
                    self.lock.withLock { self.state.loaded(shape, stats: stats, epoch: epoch) }
                    continuation.resume(returning: Loaded(shape: shape, model: summary, stats: stats, seconds: Date().timeIntervalSince(began)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Checks a Forward's slices against the loaded stage and reserves their KV room; returns
    /// each slice's stage id. Nothing is reserved when it throws.
    public func admit(_ slices: [ForwardSlice]) throws(ForwardRefusal) -> [UInt64] {
        lock.lock()
        defer { lock.unlock() }
        return try state.admit(slices, workerID: workerID)
    }

    /// Stopping: requests held here go on, new ones are refused (see `ForwardAdmission`).
    public func beginDraining() { lock.withLock { state.drain() } }

    /// Items taken from the queue into a batch.
    func dequeued(_ count: Int) { lock.withLock { state.dequeued(count) } }

    /// Frees requests' KV here; returns how many held any, and the entries in use after.
    public func release(_ keys: [String]) async -> (released: Int, used: UInt64) {
        await withCheckedContinuation { continuation in
            queue.async {
                let ids = self.lock.withLock { self.state.forget(keys) }
                for id in ids { self.executor?.release(id) }
                let stats = self.executor?.stats
                if let stats { self.lock.withLock { self.state.update(stats) } }
                continuation.resume(returning: (ids.count, UInt64(stats?.kvUsedEntries ?? 0)))
            }
        }
    }

    /// Drops a failed request's KV here (the scheduler re-routes it).
    public func discard(_ key: String) async { _ = await release([key]) }

    /// Frees every request's KV here: for when the scheduler that admitted them is gone (it
    /// restarted, or dropped this worker and re-routed them); returns how many held any.
    public func releaseAll() async -> Int {
        await release(lock.withLock { Array(state.ids.keys) }).released
    }

    /// Runs one batch on the compute queue.
    public func step(_ batch: StepBatch) async -> Result<StepOutput, WorkerError> {
        await withCheckedContinuation { continuation in
            let launched = batch.launched ?? .now
            queue.async {
                guard let stage = self.executor else {
                    continuation.resume(returning: .failure(.invalidBatch("no layers loaded")))
                    return
                }
                let result: Result<StepOutput, WorkerError>
                do { result = .success(try stage.step(batch)) } catch let error as WorkerError { result = .failure(error) } catch {
                    result = .failure(.invalidBatch("\(error)"))
                }
                let stats = stage.stats
                self.lock.withLock {
                    self.state.update(stats)
                    if case .success(let output) = result { self.state.record(batch, output: output, wallSeconds: Self.seconds(ContinuousClock.now - launched)) }
                }
                continuation.resume(returning: result)
            }
        }
    }

    private static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
