import SchedulerCore
import ServiceKit
import Wire

/// The scheduler's RPCs, each a call into SchedulerEngine.
enum SchedulerHandlers {
    static func register(on host: ServiceHost, engine: SchedulerEngine, limits: GenerateLimits) {
        let server = host.server
        server.unary(Methods.Scheduler.registerWorker.name, RegisterWorkerRequest.self) { request, _ in try engine.register(request) }
        server.unary(Methods.Scheduler.heartbeat.name, HeartbeatRequest.self) { request, _ in engine.heartbeat(request) }
        server.unary(Methods.Scheduler.deregisterWorker.name, DeregisterWorkerRequest.self) { request, _ in engine.deregister(request) }
        server.unary(Methods.Scheduler.forwardResult.name, ForwardResultRequest.self) { request, _ in
            engine.forwardResults(request)
            return ForwardResultResponse()
        }
        server.unary(Methods.Scheduler.cancel.name, CancelRequest.self) { request, context in
            guard !request.requestID.isEmpty else { throw Status(.invalidArgument, "Cancel: request_id is empty") }
            return CancelResponse(found: engine.cancel(request.requestID, by: context.clientKeyID))
        }
        server.unary(Methods.Scheduler.clusterStatus.name, ClusterStatusRequest.self) { _, _ in engine.clusterStatus() }
        server.stream(Methods.Scheduler.generate.name, GenerateRequest.self, GenerateEvent.self) { request, context, writer in
            try limits.check(request)
            let takeWaitingSlot = { () throws -> SchedulerEngine.WaitingSlot in
                let hold = try limits.takeWaitingSlot(client: context.clientKeyID)
                return { hold.release() }
            }
            try await engine.generate(request, client: context.clientKeyID, takeWaitingSlot: takeWaitingSlot) { event in try await writer.send(event) }
        }
        host.addStats {
            let status = engine.clusterStatus()
            return [Stat(name: "workers", value: Double(status.workers.count)),
                    Stat(name: "workers_serving", value: Double(status.workers.filter { $0.health == .serving }.count)),
                    Stat(name: "queue_length", value: Double(status.queueLength)),
                    Stat(name: "active_requests", value: Double(status.activeRequests)),
                    Stat(name: "plan_epoch", value: Double(status.planEpoch)),
                    Stat(name: "generate_refused_queue_full", value: Double(engine.queueRefusals))]
                + engine.planningTally.figures.map { Stat(name: $0.name, value: $0.value) } + limits.stats
        }
    }
}
