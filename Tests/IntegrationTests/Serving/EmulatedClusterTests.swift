import Client
import Foundation
import LatticeTesting
import Testing

/// Emulated GPU workers (Helix profiles, payloads of the real size) serving LLaMA-2-70B's 80
/// layers: the rest of the system runs them exactly like cpu workers.
@Suite(.timeLimit(.minutes(1)))
struct EmulatedClusterTests {
    static let profiles: String? = {
        var folder = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardized
        for _ in 0..<6 {
            let candidate = folder.appendingPathComponent("shared/data/helix/profiles").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }()

    @Test(.enabled(if: profiles != nil, "needs shared/data/helix/profiles above the working directory"))
    func emulatedGPUsServeSeventyBillionParameters() async throws {
        let profiles = try #require(Self.profiles)
        let scheduler = try await LatticeTesting.start(.scheduler, arguments: ["--model", "llama2-70b", "--heartbeat-interval", "0.2"])
        var workers: [TestService] = []
        do {
            // At most 30 layers each (by flag): the 80 layers need all three workers.
            for (gpu, capacity) in [("A100", "30"), ("A100", "30"), ("L4", "30")] {
                workers.append(try await LatticeTesting.start(.worker, arguments: [
                    "--scheduler", scheduler.address, "--backend", "emulated", "--gpu", gpu, "--model", "llama2-70b",
                    "--profiles", profiles, "--layer-capacity", capacity, "--kv-tokens", "4096"]))
            }
            let client = scheduler.client()
            var events: [GenerateEvent] = []
            for try await event in client.stream(Methods.Scheduler.generate.name, GenerateRequest(promptTokenIDs: [1, 2, 3, 4], maxTokens: 5, ignoreEOS: true),
                                                 as: GenerateEvent.self, deadline: .seconds(30)) { events.append(event) }
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
        } catch {
            for worker in workers { await worker.stop() }
            await scheduler.stop()
            throw error
        }
        for worker in workers { await worker.stop() }
        await scheduler.stop()
    }
}
