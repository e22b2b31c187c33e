import Foundation
import ServiceKit
import Wire
import WorkerCore

/// The worker's RPCs: LoadLayers, Forward, Release, MeasureLinks and Probe, and its Stats figures.
enum WorkerHandlers {
    static func register(on host: ServiceHost, stage: WorkerStage, pipeline: ForwardPipeline, models: ModelPolicy, destinations: ForwardGuard) {
        host.server.stream(Methods.Worker.loadLayers.name, LoadLayersRequest.self, LoadLayersEvent.self) { request, _, writer in
            guard request.end > request.start else {
                throw Status(.invalidArgument, "LoadLayers: the range [\(request.start), \(request.end)) is empty; end must be greater than start")
            }
            guard ComputeBackend(request.backend) == stage.settings.backend else {
                throw Status(.invalidArgument, "LoadLayers: this worker runs the \(stage.settings.backend) backend, not \(request.backend)")
            }
            let began = Date()
            let relay = LoadRelay()
            let model = ModelInfo(name: request.modelName, modelDir: request.modelDir)
            try models.check(model)
            Task {
                do { relay.finish(.success(try await stage.load(Int(request.start)..<Int(request.end), model: model, epoch: nil) { relay.set($0, $1) })) }
                catch { relay.finish(.failure(error)) }
            }
            // Progress items while loading, then the result.
            while true {
                let (done, total, outcome) = relay.value
                switch outcome {
                case .success(let result)?:
                    try await writer.send(LoadLayersEvent(event: .result(result)))
                    return
                case .failure(let error)?:
                    throw error
                case nil:
                    try await writer.send(LoadLayersEvent(event: .progress(LoadProgress(layersLoaded: UInt32(done), layersTotal: UInt32(total),
                                                                                       elapsedSeconds: Date().timeIntervalSince(began), phase: "reading"))))
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
        }
        host.server.unary(Methods.Worker.forward.name, ForwardRequest.self) { request, _ in
            try await destinations.check(request)
            return try pipeline.accept(await pipeline.crossSourceLink(request))
        }
        host.server.unary(Methods.Worker.release.name, ReleaseRequest.self) { request, _ in
            pipeline.forget(request.requestIDs)
            let (released, used) = await stage.release(request.requestIDs)
            return ReleaseResponse(released: UInt32(released), kvUsedEntries: used)
        }
        host.server.unary(Methods.Worker.measureLinks.name, MeasureLinksRequest.self) { request, _ in
            try await destinations.check(peers: request.addresses)
            return try await LinkProbe.measure(request, peers: pipeline.peers)
        }
        host.server.unary(Methods.Worker.probe.name, ProbeRequest.self) { request, _ in ProbeResponse(receivedBytes: UInt64(request.payload.count)) }
        host.addStats { stage.workerStats.extras.map { Stat(name: $0.name, value: $0.value) } }
        host.addStats { [Stat(name: "route_hops_received", value: Double(pipeline.routeHopsReceived)),
                               Stat(name: "held_steps_dropped", value: Double(pipeline.heldStepsDropped)),
                               Stat(name: "held_steps_reported", value: Double(pipeline.heldStepsReported))] }
        // Cumulative, so that a reader takes a window's figures by difference (`lattice load`).
        host.addStats {
            let ledger = stage.ledger
            return [Stat(name: "busy_seconds", value: ledger.prefill.seconds + ledger.decode.seconds),
                    Stat(name: "batches", value: Double(ledger.batches)), Stat(name: "batch_tokens", value: Double(ledger.batchTokens)),
                    Stat(name: "batch_decodes", value: Double(ledger.batchDecodes)), Stat(name: "step_wall_seconds", value: ledger.stepWallSeconds)]
        }
    }
}

/// A background load's progress and outcome, read by the stream that reports it.
final class LoadRelay: @unchecked Sendable {
    private let lock = NSLock()
    private var current: (Int, Int, Result<LoadLayersResult, Error>?) = (0, 0, nil)
    func set(_ done: Int, _ total: Int) { lock.lock(); current.0 = done; current.1 = total; lock.unlock() }
    func finish(_ outcome: Result<LoadLayersResult, Error>) { lock.lock(); current.2 = outcome; lock.unlock() }
    var value: (Int, Int, Result<LoadLayersResult, Error>?) { lock.lock(); defer { lock.unlock() }; return current }
}
