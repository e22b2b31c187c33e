import Client
import Foundation
import Logging
import Wire
import WorkerCore

/// A worker stopping on SIGTERM: it takes no new request, tells its scheduler it is draining
/// (the scheduler routes nothing new here and plans without it), lets the requests it holds
/// finish or be re-routed elsewhere, then deregisters, before the process exits.
struct WorkerDrain: Sendable {
    let scheduler: String
    let workerID: String
    let stage: WorkerStage
    let logger: Logger

    func run(by deadline: ContinuousClock.Instant) async {
        stage.beginDraining()
        guard let client = try? ServiceClient(address: scheduler, reconnect: .never) else { return }
        await tell(client, draining: true)
        // Keep a moment for the goodbye; the requests still held then are re-routed by the scheduler.
        let waitUntil = deadline - .milliseconds(500)
        while !stage.ledger.isIdle, ContinuousClock.now < waitUntil { try? await Task.sleep(for: .milliseconds(20)) }
        let held = stage.ledger.lengths.count
        if held > 0 { logger.warning("drain time is up; the scheduler re-routes the requests still here", metadata: ["requests": "\(held)"]) }
        await tell(client, draining: false)
        await client.close()
    }

    private func tell(_ client: ServiceClient, draining: Bool) async {
        let request = DeregisterWorkerRequest(workerID: workerID, draining: draining)
        do {
            let answer = try await client.call(Methods.Scheduler.deregisterWorker.name, request, as: DeregisterWorkerResponse.self, deadline: .seconds(2))
            logger.info(draining ? "draining: the scheduler routes no new request here" : "deregistered",
                        metadata: ["scheduler": "\(scheduler)", "requests": "\(answer.activeRequests)"])
        } catch {
            logger.warning("cannot tell the scheduler", metadata: ["scheduler": "\(scheduler)", "draining": "\(draining)", "error": "\(error)"])
        }
    }
}
