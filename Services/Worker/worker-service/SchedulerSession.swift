import Client
import Foundation
import Logging
import Transport
import Wire
import WorkerCore

/// Registers with the scheduler, heartbeats, and loads the layers each plan assigns.
struct SchedulerSession: Sendable {
    let scheduler: String
    let registration: RegisterWorkerRequest
    let stage: WorkerStage
    let models: ModelPolicy
    /// Told each plan epoch the scheduler answers with, so it re-reads the plan's workers.
    let destinations: ForwardGuard
    let logger: Logger

    init(scheduler: String, registration: RegisterWorkerRequest, stage: WorkerStage, models: ModelPolicy, destinations: ForwardGuard, logger: Logger) {
        self.scheduler = scheduler
        self.registration = registration
        self.stage = stage
        self.models = models
        self.destinations = destinations
        self.logger = logger
    }

    /// Runs until cancelled: register (retrying while the scheduler is away), then heartbeat;
    /// registers again when the scheduler has forgotten this worker.
    func run() async {
        guard let client = try? ServiceClient(address: scheduler) else {
            logger.error("bad scheduler address", metadata: ["scheduler": "\(scheduler)"])
            return
        }
        var retry = Duration.milliseconds(100)
        // A stopping worker does not register again (see `WorkerDrain`).
        while !Task.isCancelled, !stage.ledger.draining {
            let interval: Double
            do {
                let response = try await client.call(Methods.Scheduler.registerWorker.name, registration, as: RegisterWorkerResponse.self, deadline: .seconds(5))
                logger.info("registered", metadata: ["scheduler": "\(scheduler)", "epoch": "\(response.planEpoch)"])
                interval = response.heartbeatIntervalSeconds > 0 ? response.heartbeatIntervalSeconds : 1
                await destinations.heard(epoch: response.planEpoch)
                follow(assignment: response.assignment, model: response.model, epoch: response.planEpoch)
                retry = .milliseconds(100)
            } catch {
                logger.warning("cannot register; retrying", metadata: ["scheduler": "\(scheduler)", "error": "\(error)"])
                try? await Task.sleep(for: retry)
                retry = min(retry * 2, .seconds(2))
                continue
            }
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(interval))
                let beat = HeartbeatRequest(workerID: registration.workerID, stats: stage.workerStats, planEpoch: stage.epoch)
                guard let response = try? await client.call(Methods.Scheduler.heartbeat.name, beat, as: HeartbeatResponse.self, deadline: .seconds(5)) else {
                    continue   // the scheduler may be restarting; keep trying
                }
                guard response.known else {
                    // A restarted scheduler (or one that dropped this worker) will never release
                    // what the old one admitted here.
                    let orphans = await stage.releaseAll()
                    logger.warning("the scheduler forgot this worker; registering again", metadata: ["released_requests": "\(orphans)"])
                    break
                }
                await destinations.heard(epoch: response.planEpoch)
                if response.reassigned, !stage.ledger.draining { follow(assignment: response.assignment, model: response.model, epoch: response.planEpoch) }
            }
        }
        await client.close()
    }

    /// Loads the assigned layers in the background (heartbeats go on meanwhile).
    private func follow(assignment: LayerRange?, model: ModelInfo?, epoch: UInt64) {
        do {
            try models.check(model)
        } catch {
            logger.error("refusing the scheduler's model", metadata: ["model_dir": "\(model?.modelDir ?? "")", "error": "\(error)"])
            return
        }
        guard let range = stage.follow(assignment.map { Int($0.start)..<Int($0.end) } ?? 0..<0, epoch: epoch) else { return }
        Task {
            do {
                let result = try await stage.load(range, model: model, epoch: epoch) { _, _ in }
                logger.info("loaded layers", metadata: ["start": "\(range.lowerBound)", "end": "\(range.upperBound)", "epoch": "\(epoch)",
                                                        "seconds": "\(String(format: "%.3f", result.loadSeconds))", "kv_entries": "\(result.kvCapacityEntries)"])
            } catch {
                logger.error("cannot load assigned layers", metadata: ["start": "\(range.lowerBound)", "end": "\(range.upperBound)", "error": "\(error)"])
            }
            stage.assignmentLoadEnded()
        }
    }
}
