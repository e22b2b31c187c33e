import Client
import Foundation
import LatticeTesting
import Testing

/// Emulated GPU workers (Helix profiles, payloads of the real size) serving LLaMA-2-70B's 80
/// layers: the rest of the system runs them exactly like cpu workers.
@Suite(.timeLimit(.minutes(TestTime.minutes(1))))
struct EmulatedClusterTests {
    /// The workers find the repository's own profiles (no --profiles flag) and take the GPU names
    /// the cluster files use.
    @Test
    func emulatedGPUsServeSeventyBillionParameters() async throws {
        let scheduler = try await LatticeTesting.start(.scheduler, arguments: ["--model", "llama2-70b", "--heartbeat-interval", "\(TestTime.seconds(0.2))"])
        var workers: [TestService] = []
        do {
            // At most 30 layers each (by flag): the 80 layers need all three workers.
            for (gpu, capacity) in [("A100-40G", "30"), ("a100", "30"), ("L4", "30")] {
                workers.append(try await LatticeTesting.start(.worker, arguments: [
                    "--scheduler", scheduler.address, "--backend", "emulated", "--gpu", gpu, "--model", "llama2-70b",
                    "--layer-capacity", capacity, "--kv-tokens", "4096"]))
            }
            let client = scheduler.client()
            var events: [GenerateEvent] = []
            for try await event in client.stream(Methods.Scheduler.generate.name, GenerateRequest(promptTokenIDs: [1, 2, 3, 4], maxTokens: 5, ignoreEOS: true),
                                                 as: GenerateEvent.self, deadline: TestTime.scaled(.seconds(30))) { events.append(event) }
            let status = try await client.call(Methods.Scheduler.clusterStatus.name, ClusterStatusRequest(), as: ClusterStatusResponse.self)
            await client.close()
            let finished = try #require(events.finished)
            #expect(finished.reason == .maxTokens, "\(finished.detail)")
            #expect(events.tokens.count == 5)
            #expect(events.tokens.allSatisfy { $0 < 32000 })
            #expect(finished.route.count == 3)
            #expect(status.model?.numLayers == 80)
            let covered = status.workers.compactMap(\.layers).map { Int($0.end - $0.start) }.reduce(0, +)
            #expect(covered == 80)
            #expect(status.workers.map(\.gpuType).sorted() == ["A100-40G", "A100-40G", "L4"])
        } catch {
            for worker in workers { await worker.stop() }
            await scheduler.stop()
            throw error
        }
        for worker in workers { await worker.stop() }
        await scheduler.stop()
    }
}
