import Foundation

/// The handle worker-service holds: at most one loaded stage, usable from any thread, with
/// calls serialised (one batch at a time, as on a real accelerator). LoadLayers swaps the
/// stage; Forward, Release and Stats go to whichever is loaded.
public final class WorkerStage: @unchecked Sendable {
    private let lock = NSLock()
    private var executor: (any StageExecutor)?

    public init(_ executor: (any StageExecutor)? = nil) { self.executor = executor }

    /// Builds a new stage (outside the lock, so serving continues meanwhile) and swaps it in.
    /// Requests cached in the old stage are dropped with it.
    public func load(_ make: () throws -> any StageExecutor) throws {
        let next = try make()
        lock.withLock { executor = next }
    }

    /// Drops the loaded stage.
    public func unload() { lock.withLock { executor = nil } }

    /// The loaded range and model depth, or nil before LoadLayers.
    public var loaded: (layers: Range<Int>, totalLayers: Int)? {
        lock.withLock { executor.map { ($0.layers, $0.totalLayers) } }
    }

    public func step(_ batch: StepBatch) throws -> StepOutput {
        try lock.withLock {
            guard let executor else { throw WorkerError.invalidBatch("no layers are loaded on this worker; send LoadLayers first") }
            return try executor.step(batch)
        }
    }

    public func release(_ requestID: UInt64) { lock.withLock { executor?.release(requestID) } }

    public var stats: StageStats? { lock.withLock { executor?.stats } }
}
