import Client
import Foundation
import LatticeTesting
import Testing

/// Hundreds of looping requests at once: the first stage holds more routes than its first check
/// bound (256) while prefills arrive concurrently, and no decode step may find its route gone
/// (a dropped step stalls its request until the step timeout, then re-prefills it).
@Suite(.timeLimit(.minutes(TestTime.minutes(3))))
struct HeldRouteTests {
    @Test func manyConcurrentLoopsKeepEveryRoute() async throws {
        let count = 400, maxTokens = 6
        let cluster = try await ServingCluster.emulatedChain(kvTokens: 65536)
        do {
            let results = try await cluster.generateConcurrently(count: count, maxTokens: maxTokens, idPrefix: "h", deadline: .seconds(150))
            let complete = results.filter { $0.finished?.reason == .maxTokens && $0.tokens.count == maxTokens }
            #expect(complete.count == count, "\(results.compactMap(\.finished).filter { $0.reason != .maxTokens }.prefix(3).map(\.detail))")
            var dropped = 0.0, routesReceived = 0.0
            for worker in cluster.workers.withLock({ $0 }) {
                let stats = worker.client()
                dropped += try await stats.stats(.worker)[extra: "held_steps_dropped"] ?? -1
                routesReceived += try await stats.stats(.worker)[extra: "route_hops_received"] ?? -1
                await stats.close()
            }
            #expect(routesReceived > 0, "no route was sent in full: the requests did not loop on the workers")
            #expect(dropped == 0, "decode steps found no held route")
            let log = cluster.scheduler.log
            #expect(!log.contains("route failed"), "\(log.split(separator: "\n").filter { $0.contains("route failed") }.prefix(3))")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// A decode step whose route is gone at the worker it reaches (a test hook drops it there once,
    /// as a release under the step would): that worker cannot answer the step's reply-to, which
    /// held steps leave out, so it reports the failure to its scheduler, which re-routes the
    /// request at once. Before, the step ended there unreported and the request waited for the
    /// scheduler's step timeout (here 20 s) before it was re-prefilled.
    @Test func aStepWhoseHeldRouteIsGoneIsReRoutedAtOnce() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let reference = try LatticeCLI.reference(model: model, prompt: [7, 8, 9], maxTokens: 8).tokens
        let stepTimeout = TestTime.seconds(20)
        let cluster = try await ServingCluster.start(model: model, workers: 0, schedulerArguments: ["--step-timeout", "\(stepTimeout)"])
        do {
            try await cluster.addWorker("w1")
            try await cluster.addWorker("w2", environment: ["LATTICE_DEBUG_DROP_HELD_ROUTE_AT_STEP": "3"])
            try await cluster.waitUntilServing(workers: 2)
            let began = ContinuousClock.now
            let events = try await cluster.generate(GenerateRequest(promptTokenIDs: [7, 8, 9], maxTokens: 8, ignoreEOS: true))
            let seconds = (ContinuousClock.now - began) / .seconds(1)
            #expect(events.finished?.reason == .maxTokens, "\(String(describing: events.finished?.reason)): \(events.finished?.detail ?? "")")
            #expect(events.tokens == reference)
            #expect(seconds < stepTimeout / 4, "took \(seconds) s: the dropped step was not reported (step timeout \(stepTimeout) s)")
            var dropped = 0.0, reported = 0.0
            for worker in cluster.workers.withLock({ $0 }) {
                let stats = worker.client()
                dropped += try await stats.stats(.worker)[extra: "held_steps_dropped"] ?? -1
                reported += try await stats.stats(.worker)[extra: "held_steps_reported"] ?? -1
                await stats.close()
            }
            #expect(dropped == 1 && reported == 1, "held steps dropped \(dropped), reported \(reported)")
            let failures = cluster.scheduler.log.split(separator: "\n").filter { $0.contains("route failed") }
            #expect(failures.count == 1 && failures.allSatisfy { $0.contains("found no route held here") }, "\(failures.prefix(3))")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

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
