import Client
import Foundation
import LatticeTesting
import Testing

/// A request's decode steps come back to a worker carrying only their own data; the route they
/// follow is the one the worker kept from the prefill.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct HeldRouteTests {
    /// A one-worker loop: each step goes from the worker back to itself. With the worker's
    /// Forward answer held back after its items are queued (a loaded machine, or ThreadSanitizer,
    /// does the same by chance: it hung MembershipTests under scripts/sanitize tsan), the first
    /// step loops back before that Forward returns; it must find its route kept already, not be
    /// refused as a step of a released request (which left the scheduler waiting for the step
    /// until its step timeout).
    @Test func aStepThatLoopsBackBeforeItsPrefillsForwardReturnsFindsItsRoute() async throws {
        let model = try LatticeCLI.tinyModel(layers: 1)
        let reference = try LatticeCLI.reference(model: model, prompt: [7, 8, 9], maxTokens: 4).tokens
        let cluster = try await ServingCluster.start(model: model, workers: 0)
        do {
            try await cluster.addWorker("w1", environment: ["LATTICE_DEBUG_FORWARD_ACCEPT_DELAY": "\(TestTime.seconds(0.5))"])
            try await cluster.waitUntilServing(workers: 1)
            let events = try await cluster.generate(GenerateRequest(promptTokenIDs: [7, 8, 9], maxTokens: 4, ignoreEOS: true))
            #expect(events.finished?.reason == .maxTokens, "\(String(describing: events.finished?.reason)): \(events.finished?.detail ?? "")")
            #expect(events.tokens == reference)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
