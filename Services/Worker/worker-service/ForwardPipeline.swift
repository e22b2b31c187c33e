import Client
import Foundation
import ClusterLinks
import Logging
import Wire
import WorkerCore

/// Forward on the wire: converts items for WorkerCore's batcher, and sends each outcome on —
/// hidden states to the item's next hop, sampled tokens and failures to its reply-to address.
final class ForwardPipeline: Sendable {
    let stage: WorkerStage
    let peers: PeerClients
    let logger: Logger
    private let batcher: ForwardBatcher<ArrivedItem>
    private let sender: OutcomeSender
    private let routes = HeldRoutes()

    /// This worker's scheduler, the reply-to of every looping request here (`ForwardGuard`): a held
    /// step that finds no route cannot name its own, and its failure goes there.
    let scheduler: String?
    /// Emulated links (`--emulate-links`), the scheduler's into this worker included.
    let links: EmulatedLinks?

    init(stage: WorkerStage, peers: PeerClients, logger: Logger, maxBatchTokens: Int, alignWait: Double,
         caps: @escaping @Sendable (Int) -> BatchCaps = { _ in .unlimited }, links: EmulatedLinks? = nil, scheduler: String? = nil) {
        self.stage = stage
        self.peers = peers
        self.logger = logger
        self.scheduler = scheduler
        self.links = links
        let sender = OutcomeSender(stage: stage, peers: peers, logger: logger, links: links)
        self.sender = sender
        batcher = ForwardBatcher(stage: stage, maxBatchTokens: maxBatchTokens, alignWait: alignWait, caps: caps) { sender.send($0) }
    }

    /// Emulated links: a Forward from the scheduler has crossed the cluster file's source link to
    /// this worker; it waits here as the link would have made it wait (the scheduler emulates no
    /// link), and its items' first hop opens with the transfer, as a worker's sends do. The
    /// scheduler's items are the ones whose hop times nobody has opened yet.
    func crossSourceLink(_ request: ForwardRequest) async -> ForwardRequest {
        guard let links, request.items.contains(where: { $0.hopSeconds.isEmpty && !$0.routeHeld }) else { return request }
        guard let sent = links.transferFromSource(bytes: request.items.reduce(0) { $0 + 4 * $1.tokenIDs.count }) else { return request }
        try? await Task.sleep(until: sent.arrival, clock: .continuous)
        let wait = sent.hopSeconds
        var crossed = request
        for i in crossed.items.indices where crossed.items[i].hopSeconds.isEmpty && !crossed.items[i].routeHeld { crossed.items[i].hopSeconds = [wait] }
        return crossed
    }

    /// Validates and queues a Forward's items; the Status thrown is the Forward's answer.
    func accept(_ request: ForwardRequest) throws -> ForwardResponse {
        if let step = Self.dropHeldRouteAtStep { routes.dropOnce(atStep: step, among: request.items) }
        // A held step whose route is gone ends here: its request was released here (finished or
        // cancelled while the step was on the way), or lost its route while the scheduler still
        // waits for the step. The step carries no reply-to, so its failure goes to this worker's
        // scheduler, which re-routes the request at once instead of at its step timeout.
        let restored = request.items.map { ($0, routes.restore($0)) }
        let items = restored.compactMap(\.1)
        if items.count < request.items.count {
            let lost = restored.filter { $0.1 == nil }.map(\.0)
            logger.debug("held steps found no route", metadata: ["count": "\(lost.count)", "reported": "\(scheduler != nil)"])
            if let scheduler {
                sender.report(lost.map { ForwardResult(requestID: $0.requestID, step: $0.step, error: "worker \(stage.workerID): decode step \($0.step) found no route held here (released, or its prefill did not pass this worker)") },
                              to: scheduler)
                routes.reported(lost.count)
                if items.isEmpty { return ForwardResponse(accepted: 0, kvUsedEntries: stage.workerStats.kvUsedEntries) }
            } else if items.isEmpty {
                throw Status(.failedPrecondition, "Forward: no route held here for \(lost.map(\.requestID).prefix(3).joined(separator: ", ")) (released, or its prefill did not pass this worker); send the route in full")
            }
        }
        var accepted = items.count
        let now = ContinuousClock.now
        // Routes first: once queued, an item may run and loop its next step back here at once.
        var kept = routes.reserve(request.items)
        do {
            try batcher.accept(items.map(ForwardSlice.init), tags: items.map { ArrivedItem(item: $0, at: now) })
            if Self.acceptDelay > 0 { Thread.sleep(forTimeInterval: Self.acceptDelay) }
        } catch {
            // A hop's Forward carries many requests: one refused (say, released while its decode
            // loop was in flight) fails alone, through its reply-to, and the others go on.
            guard items.count > 1 else {
                routes.forget(kept)
                throw Status(error)
            }
            var refused: [(ForwardItem, String)] = []
            for item in items {
                do {
                    try batcher.accept([ForwardSlice(item)], tags: [ArrivedItem(item: item, at: now)])
                } catch { refused.append((item, error.message)) }
            }
            let refusedIDs = Set(refused.map(\.0.requestID))
            routes.forget(kept.filter(refusedIDs.contains))
            kept.removeAll(where: refusedIDs.contains)
            guard refused.count < items.count else { throw Status(error) }
            accepted -= refused.count
            sender.refuse(refused)
        }
        routes.admit(kept) { Set(stage.ledger.ids.keys) }
        return ForwardResponse(accepted: UInt32(accepted), kvUsedEntries: stage.workerStats.kvUsedEntries)
    }

    /// Forgets the routes of requests released here.
    func forget(_ requestIDs: [String]) { routes.forget(requestIDs) }

    /// Hop entries that arrived in Forwards so far (the `route_hops_received` stat).
    var routeHopsReceived: UInt64 { routes.hopsReceived }

    /// Held steps that found no route here (the `held_steps_dropped` stat).
    var heldStepsDropped: UInt64 { routes.stepsDropped }

    /// Those of them whose failure went to the scheduler (the `held_steps_reported` stat).
    var heldStepsReported: UInt64 { routes.stepsReported }

    /// Test hook (environment only, LATTICE_DEBUG_FORWARD_ACCEPT_DELAY, seconds): a Forward's
    /// answer waits this long after its items are queued, so that a test can make a step loop
    /// back before the Forward that started it returns.
    static let acceptDelay = ProcessInfo.processInfo.environment["LATTICE_DEBUG_FORWARD_ACCEPT_DELAY"].flatMap(Double.init) ?? 0

    /// Test hook (environment only, LATTICE_DEBUG_DROP_HELD_ROUTE_AT_STEP, a step number): the
    /// first held decode step of that number to arrive finds its route gone, as one released here
    /// under it would, so that a test can watch how the request recovers.
    static let dropHeldRouteAtStep = ProcessInfo.processInfo.environment["LATTICE_DEBUG_DROP_HELD_ROUTE_AT_STEP"].flatMap(UInt64.init)

    /// The batch loop; returns when cancelled.
    func run() async { await batcher.run() }
}

/// An item as queued here: when its Forward arrived, so that its hop time can be closed.
struct ArrivedItem: Sendable {
    var item: ForwardItem
    var at: ContinuousClock.Instant
}

/// Sends a batch's outcomes on without holding up the next batch.
struct OutcomeSender: Sendable {
    let stage: WorkerStage
    let peers: PeerClients
    let logger: Logger
    /// Emulated links to the peers (`--emulate-links`): sends wait as the cluster file's links would make them.
    let links: EmulatedLinks?

    func send(_ outcomes: [(AcceptedSlice<ArrivedItem>, SliceOutcome)]) {
        // Each item sent on with its request's reply-to: a held step leaves it out, and the failure
        // of a Forward the next hop refuses must still reach the scheduler.
        var forwards: [String: [(item: ForwardItem, replyTo: String)]] = [:]
        var replies: [String: [ForwardResult]] = [:]
        var peerOf: [String: String] = [:]
        let now = ContinuousClock.now
        for (accepted, outcome) in outcomes {
            let item = accepted.tag.item.closingHop(arrived: accepted.tag.at, now: now)
            switch outcome {
            case .hidden(let states):
                guard let (address, next) = item.onward(Wire.HiddenStates(states)) else { continue }
                forwards[address, default: []].append((next, item.replyTo))
                peerOf[address] = item.route.first?.workerID
            case .token(let token, let logprob, let position):
                replies[item.replyTo, default: []].append(ForwardResult(requestID: item.requestID, tokenID: token, logprob: logprob, position: position,
                                                                        step: item.step, hopSeconds: item.hopSeconds))
                if let (address, next) = item.nextStep(token: token, position: position) {
                    forwards[address, default: []].append((next, item.replyTo))
                    peerOf[address] = item.loop.first?.workerID
                }
            case .failure(let reason):
                replies[item.replyTo, default: []].append(ForwardResult(requestID: item.requestID, step: item.step, error: "worker \(stage.workerID): \(reason)"))
                Task { await stage.discard(item.requestID) }
            }
        }
        for (address, sent) in forwards {
            let bytes = sent.reduce(0) { $0 + ($1.item.hidden?.chargedBytes ?? 0) + 4 * $1.item.tokenIDs.count }
            let transfer = peerOf[address].flatMap { links?.transfer(to: $0, bytes: bytes, now: now) }
            // The next hop's time opens with the transfer: from when it starts on the link (not the
            // wait for the transfers ahead of it) to its arrival, as Swarm times a hop (the Helix
            // artifact's `SwarmScheduler`, from the transmission's start; our simulator alike).
            let items = sent.map { var item = $0.item; item.hopSeconds.append(transfer?.hopSeconds ?? 0); return item }
            let replyTo = sent.map(\.replyTo)
            Task {
                if let arrival = transfer?.arrival { try? await Task.sleep(until: arrival, clock: .continuous) }
                await forward(items, replyTo: replyTo, to: address)
            }
        }
        if !replies.isEmpty {
            // Tokens go to the scheduler over the cluster file's sink link (4 bytes a token id).
            let arrival = links?.arrival(to: "sink", bytes: 4 * replies.values.reduce(0) { $0 + $1.count }, now: now)
            Task {
                if let arrival { try? await Task.sleep(until: arrival, clock: .continuous) }
                await reply(replies)
            }
        }
    }

    /// Items of a Forward refused here: each fails at its reply-to address.
    func refuse(_ items: [(ForwardItem, String)]) {
        var replies: [String: [ForwardResult]] = [:]
        for (item, reason) in items {
            replies[item.replyTo, default: []].append(ForwardResult(requestID: item.requestID, step: item.step, error: "worker \(stage.workerID): \(reason)"))
        }
        Task {
            for (item, _) in items { await stage.discard(item.requestID) }
            await reply(replies)
        }
    }

    /// Hands hidden states to the next hop; if it refuses or is gone, the requests fail here, each
    /// reported to `replyTo` (its request's, item by item).
    private func forward(_ items: [ForwardItem], replyTo: [String], to address: String) async {
        do {
            let client = try await peers.client(address)
            _ = try await client.call(Methods.Worker.forward.name, ForwardRequest(items: items), as: ForwardResponse.self, deadline: .seconds(30))
        } catch {
            logger.warning("next hop refused or unreachable", metadata: ["address": "\(address)", "error": "\(error)"])
            var failures: [String: [ForwardResult]] = [:]
            for (item, replyTo) in zip(items, replyTo) {
                failures[replyTo, default: []].append(ForwardResult(requestID: item.requestID, step: item.step,
                                                                    error: "worker \(stage.workerID): next hop \(address): \(error)"))
                await stage.discard(item.requestID)
            }
            await reply(failures)
        }
    }

    /// Sends failures of steps that end here to `address` (the scheduler waiting for them).
    func report(_ failures: [ForwardResult], to address: String) {
        Task { await reply([address: failures]) }
    }

    private func reply(_ replies: [String: [ForwardResult]]) async {
        for (address, results) in replies {
            do {
                let client = try await peers.client(address)
                _ = try await client.call(Methods.Scheduler.forwardResult.name, ForwardResultRequest(results: results),
                                          as: ForwardResultResponse.self, deadline: .seconds(30))
            } catch {
                logger.warning("cannot send results", metadata: ["reply_to": "\(address)", "error": "\(error)"])
            }
        }
    }
}

extension EmulatedLinks.Transfer {
    /// Seconds from the start of sending to the arrival: what a hop's time opens with.
    var hopSeconds: Double { max(.zero, arrival - start).inSeconds }
}
