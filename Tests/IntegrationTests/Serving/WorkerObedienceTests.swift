import Client
import Foundation
import LatticeTesting
import Testing

/// A worker obeys only its cluster (issue 12): tokens go only to its scheduler, hidden states only
/// to workers of the scheduler's plan, models load only from its model root.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct WorkerObedienceTests {
    static func status(_ body: () async throws -> Void) async -> Status? {
        do { try await body(); return nil } catch let status as Status { return status } catch { return Status(.unknown, "\(error)") }
    }

    @Test func forwardsOnlyToItsSchedulerAndThePlansWorkers() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let cluster = try await ServingCluster.start(model: model, workers: 2)
        do {
            let workers = try await cluster.status().workers.sorted { ($0.layers?.start ?? 0) < ($1.layers?.start ?? 0) }
            let first = try #require(workers.first), second = try #require(workers.last)
            let client = try ServiceClient(address: first.address, reconnect: .never)
            func forward(route: [RouteHop], replyTo: String) async -> Status? {
                let item = ForwardItem(requestID: "obey-\(UUID().uuidString.prefix(6))", positions: [0], tokenIDs: [1], start: first.layers?.start ?? 0,
                                       end: first.layers?.end ?? 0, route: route, replyTo: replyTo)
                return await Self.status { _ = try await client.call(Methods.Worker.forward.name, ForwardRequest(items: [item]), as: ForwardResponse.self) }
            }
            let next = RouteHop(address: second.address, start: second.layers?.start ?? 0, end: second.layers?.end ?? 0, workerID: second.workerID)
            let stranger = RouteHop(address: "127.0.0.1:9", start: next.start, end: next.end, workerID: "stranger")

            let badReply = await forward(route: [next], replyTo: "127.0.0.1:9")
            #expect(badReply?.code == .permissionDenied && badReply?.message.contains("is not this worker's scheduler") == true, "\(String(describing: badReply))")
            let badHop = await forward(route: [stranger], replyTo: cluster.scheduler.address)
            #expect(badHop?.code == .permissionDenied && badHop?.message.contains("not a worker of the scheduler's plan") == true, "\(String(describing: badHop))")
            #expect(await forward(route: [next], replyTo: cluster.scheduler.address) == nil)
            await client.close()
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// A worker of an earlier plan is refused once the plan moves on: here a worker the first
    /// has already forwarded to dies, the scheduler re-plans without it, and the first worker,
    /// told the new epoch by its heartbeats, stops sending there instead of trusting what it had
    /// checked before.
    @Test func aWorkerLeftOutOfTheCurrentPlanIsRefusedThoughItWasAllowedBefore() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let cluster = try await ServingCluster.start(model: model, workers: 3)
        do {
            let before = try await cluster.status()
            let first = try #require(Self.stage(startingAt: 0, of: before.workers))
            let victim = try #require(Self.stage(startingAt: first.layers?.end ?? 0, of: before.workers))
            let allowed = await Self.forward(to: victim, from: first, replyTo: cluster.scheduler.address)
            #expect(allowed == nil, "the victim is in the plan: allowed; got \(String(describing: allowed))")

            let process = try #require(cluster.workers.withLock { $0 }.first { $0.port == Self.port(of: victim.address) })
            kill(process.pid, SIGKILL)
            let after = try await eventually(within: .seconds(30)) { try await cluster.status() } until: { status in
                status.planEpoch > before.planEpoch && status.workers.contains { $0.workerID == victim.workerID && $0.health == .dead }
            }
            #expect(after.planEpoch > before.planEpoch, "a plan without the dead worker")
            let refused = try await eventually(within: .seconds(20)) {
                await Self.forward(to: victim, from: first, replyTo: cluster.scheduler.address)
            } until: { $0?.code == .permissionDenied }
            #expect(refused?.code == .permissionDenied && refused?.message.contains("not a worker of the scheduler's plan") == true, "\(String(describing: refused))")

            // The next stage of the new plan is allowed.
            try await cluster.waitUntilServing(workers: 2)
            let now = try await cluster.status().workers.filter { $0.health != .dead }
            let sender = try #require(Self.stage(startingAt: 0, of: now))
            let next = try #require(Self.stage(startingAt: sender.layers?.end ?? 0, of: now))
            let survivor = await Self.forward(to: next, from: sender, replyTo: cluster.scheduler.address)
            #expect(survivor == nil, "\(String(describing: survivor))")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    static func stage(startingAt layer: UInt32, of workers: [WorkerStatus]) -> WorkerStatus? {
        workers.first { $0.layers?.start == layer && ($0.layers?.end ?? 0) > layer }
    }

    /// A one-token prefill Forward to `sender` whose route goes on to `hop`; the Status it is refused with, if any.
    static func forward(to hop: WorkerStatus, from sender: WorkerStatus, replyTo: String) async -> Status? {
        guard let client = try? ServiceClient(address: sender.address, reconnect: .never) else { return Status(.unknown, "bad address \(sender.address)") }
        let item = ForwardItem(requestID: "epoch-\(UUID().uuidString.prefix(6))", positions: [0], tokenIDs: [1], start: sender.layers?.start ?? 0,
                               end: sender.layers?.end ?? 0,
                               route: [RouteHop(address: hop.address, start: hop.layers?.start ?? 0, end: hop.layers?.end ?? 0, workerID: hop.workerID)],
                               replyTo: replyTo)
        let refusal = await status { _ = try await client.call(Methods.Worker.forward.name, ForwardRequest(items: [item]), as: ForwardResponse.self) }
        await client.close()
        return refusal
    }

    static func port(of address: String) -> Int? { address.split(separator: ":").last.flatMap { Int($0) } }

    @Test func modelsLoadOnlyFromTheModelRoot() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let root = (model as NSString).deletingLastPathComponent
        let outside = LatticeTesting.temporaryDirectory("outside")
        try FileManager.default.createSymbolicLink(atPath: "\(root)/escape-\(UUID().uuidString.prefix(6))", withDestinationPath: outside)
        try await LatticeTesting.withService(.worker, arguments: ["--model-root", root]) { worker in
            let client = worker.client()
            func load(_ directory: String) async -> Status? {
                await Self.status {
                    for try await _ in client.stream(Methods.Worker.loadLayers.name, LoadLayersRequest(modelDir: directory, start: 0, end: 2), as: LoadLayersEvent.self) {}
                }
            }
            for refused in [outside, "\(root)/../\((outside as NSString).lastPathComponent)", "/etc"] {
                let status = await load(refused)
                #expect(status?.code == .permissionDenied, "\(refused): \(String(describing: status))")
            }
            #expect(await load(model) == nil)
            await client.close()
        }
        try? FileManager.default.removeItem(atPath: outside)
    }
}
