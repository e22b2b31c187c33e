import Client
import Foundation
import LatticeTesting
import Testing

/// A looping request's route reaches each hop once, with its prefill: the decode steps after it
/// carry only their own data, whatever the number of steps.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct HopPayloadTests {
    @Test func decodeStepsDoNotResendTheRoute() async throws {
        let model = try LatticeCLI.tinyModel(layers: 6)
        let prompt: [UInt32] = [4, 9, 2]
        let reference = try LatticeCLI.reference(model: model, prompt: prompt, maxTokens: 24).tokens
        let cluster = try await ServingCluster.start(model: model, workers: 3)
        do {
            var stages = 0
            for index in 0..<2 {
                let events = try await cluster.generate(GenerateRequest(promptTokenIDs: prompt, maxTokens: 24, requestID: "held-\(index)", ignoreEOS: true))
                #expect(events.tokens == reference, "\(events.finished?.detail ?? "no finish")")
                stages = events.finished?.route.count ?? 0
            }
            #expect(stages == 3)
            var received = 0.0, decodes = 0.0
            for worker in cluster.workers.withLock({ $0 }) {
                let client = worker.client()
                let stats = try await client.stats(.worker)
                received += stats[extra: "route_hops_received"] ?? -1
                decodes += stats[extra: "batch_decodes"] ?? -1
                await client.close()
            }
            // Every stage ran each request's 23 decode steps (the prefill's chunk is not one).
            #expect(decodes == Double(2 * 23 * stages))
            // Per request, the prefill brings stage i the rest of the route (stages - 1 - i hops)
            // and the loop (stages hops); sent again with each of the 23 decode steps it would be 24 times that.
            let once = (0..<stages).reduce(0) { $0 + (stages - 1 - $1) + stages }
            #expect(received == Double(2 * once))
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
