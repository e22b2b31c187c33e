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
