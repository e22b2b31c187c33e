import Client
import Foundation
import LatticeTesting
import Testing

/// The scheduler asks a real placement-service for its plan; when placement cannot give one
/// (not implemented yet, or no profile for CPU workers) it says so and splits the layers itself.
@Suite(.timeLimit(.minutes(TestTime.minutes(1))))
struct PlacementPlanTests {
    @Test func schedulerPlansThroughPlacementOrFallsBackVisibly() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let reference = try LatticeCLI.reference(model: model, prompt: [9, 8, 7], maxTokens: 6)
        try await LatticeTesting.withService(.placement) { placement in
            let scheduler = try await LatticeTesting.start(.scheduler, arguments: ["--model", model, "--placement", placement.address, "--heartbeat-interval", "\(TestTime.seconds(0.2))"])
            var workers: [TestService] = []
            do {
                for id in ["p1", "p2"] {
                    workers.append(try await LatticeTesting.start(.worker, arguments: ["--scheduler", scheduler.address, "--model", model, "--worker-id", id]))
                }
                let client = scheduler.client()
                var tokens: [UInt32] = []
                for try await event in client.stream(Methods.Scheduler.generate.name, GenerateRequest(promptTokenIDs: [9, 8, 7], maxTokens: 6, ignoreEOS: true),
                                                     as: GenerateEvent.self, deadline: TestTime.scaled(.seconds(30))) {
                    if case .token(let token)? = event.event { tokens.append(token.tokenID) }
                }
                await client.close()
                #expect(tokens == reference.tokens)
                let log = scheduler.log
                #expect(log.contains("method=placement") || log.contains("placement unavailable; using the fallback contiguous split"))
            } catch {
                for worker in workers { await worker.stop() }
                await scheduler.stop()
                throw error
            }
            for worker in workers { await worker.stop() }
            await scheduler.stop()
        }
    }
}
