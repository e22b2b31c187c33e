import Client
import Foundation
import LatticeTesting
import Testing

/// Cancel releases KV on every hop; a killed worker's request completes on a new route.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct FailureAndCancelTests {
    @Test func cancelReleasesKVOnEveryHop() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let cluster = try await ServingCluster.start(model: model, workers: 2)
        do {
            let client = cluster.scheduler.client()
            let cancelled = Locked(false)
            let events = try await cluster.generate(GenerateRequest(promptTokenIDs: [3, 4, 5], maxTokens: 3000, requestID: "long-one", ignoreEOS: true)) { index in
                guard index == 4, !cancelled.withLock({ $0 }) else { return }
                // KV is held on both hops while the request runs.
                for worker in cluster.workers.withLock({ $0 }) {
                    let used = (try? await worker.client().stats(.worker))?[extra: "kv_used_entries"] ?? 0
                    #expect(used > 0)
                }
                let answer = try? await client.call(Methods.Scheduler.cancel.name, CancelRequest(requestID: "long-one"), as: CancelResponse.self)
                #expect(answer?.found == true)
                cancelled.withLock { $0 = true }
            }
            await client.close()
            let finished = try #require(events.finished)
            #expect(finished.reason == .cancelled)
            #expect(events.tokens.count < 3000)
            // Every hop has released the request.
            for worker in cluster.workers.withLock({ $0 }) {
                let stats = try await eventually { try await worker.client().stats(.worker) } until: { $0[extra: "kv_used_entries"] == 0 }
                #expect(stats[extra: "kv_used_entries"] == 0)
                #expect(stats[extra: "active_requests"] == 0)
            }
            let status = try await cluster.status()
            #expect(status.workers.allSatisfy { $0.kvUsedEntries == 0 })
            let unknown = try await cluster.scheduler.client().call(Methods.Scheduler.cancel.name, CancelRequest(requestID: "long-one"), as: CancelResponse.self)
            #expect(unknown.found == false)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    @Test func clientThatGoesAwayFreesItsRequest() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let cluster = try await ServingCluster.start(model: model, workers: 2)
        do {
            let client = cluster.scheduler.client()
            // Read three tokens of a long request, then stop reading: the stream is cancelled.
            let stream = client.stream(Methods.Scheduler.generate.name, GenerateRequest(promptTokenIDs: [1, 2], maxTokens: 3000, ignoreEOS: true),
                                       as: GenerateEvent.self)
            var seen = 0
            for try await event in stream {
                if case .token? = event.event { seen += 1 }
                if seen == 3 { break }
            }
            await client.close()
            let status = try await eventually { try await cluster.status() } until: { $0.activeRequests == 0 }
            #expect(status.activeRequests == 0)
            #expect(status.workers.allSatisfy { $0.kvUsedEntries == 0 })
            for worker in cluster.workers.withLock({ $0 }) {
                let stats = try await eventually { try await worker.client().stats(.worker) } until: { $0[extra: "kv_used_entries"] == 0 }
                #expect(stats[extra: "kv_used_entries"] == 0)
            }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// The request runs until the test cancels it (16,000 tokens would take minutes), once it has
    /// taken 20 steps through the late worker: its length is no race against that worker's start
    /// on a loaded machine.
    @Test func aWorkerJoiningMidRequestReplansAndTheRequestCarriesOn() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4, maxPositions: 16384)
        let prompt: [UInt32] = [11, 12, 13]
        let room = ["--kv-tokens", "18000"]   // 16,003 tokens within 90% of it
        let cluster = try await ServingCluster.start(model: model, workers: 1, workerArguments: room, schedulerArguments: ["--max-tokens-per-request", "16384"])
        do {
            let client = cluster.scheduler.client()
            let carried = Locked(0.0)
            let events = try await cluster.generate(GenerateRequest(promptTokenIDs: prompt, maxTokens: 16000, requestID: "joined", ignoreEOS: true)) { index in
                guard index == 10 else { return }
                do {
                    try await cluster.addWorker("late", arguments: room)
                    let late = try #require(cluster.workers.withLock { $0.last }).client()
                    let stats = try await eventually(within: .seconds(45)) { try await late.stats(.worker) } until: { ($0[extra: "batches"] ?? 0) >= 20 }
                    await late.close()
                    carried.withLock { $0 = stats[extra: "batches"] ?? 0 }
                } catch {
                    Issue.record("the late worker did not take the request: \(error)")
                }
                _ = try? await client.call(Methods.Scheduler.cancel.name, CancelRequest(requestID: "joined"), as: CancelResponse.self)
            }
            await client.close()
            let finished = try #require(events.finished)
            #expect(carried.withLock { $0 } >= 20, "the request should have taken 20 steps through the late worker")
            #expect(finished.reason == .cancelled, "\(finished.reason): \(finished.detail)")
            #expect(finished.route.count == 2 && finished.route.contains("late"), "the request should have moved to the new plan's route: \(finished.route)")
            // The same greedy sequence across the move.
            let reference = try LatticeCLI.reference(model: model, prompt: prompt, maxTokens: events.tokens.count)
            #expect(events.tokens == reference.tokens)
            // The new plan spans both workers.
            try await cluster.waitUntilServing(workers: 2)
            let after = try await cluster.generate(GenerateRequest(promptTokenIDs: prompt, maxTokens: 3, ignoreEOS: true))
            #expect(after.finished?.route.count == 2)
            #expect(after.tokens == Array(reference.tokens.prefix(3)))
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    @Test func killedWorkersRequestCompletesOnANewRoute() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let prompt: [UInt32] = [10, 20, 30, 40]
        let maxTokens = 150
        let reference = try LatticeCLI.reference(model: model, prompt: prompt, maxTokens: maxTokens)
        let cluster = try await ServingCluster.start(model: model, workers: 3)
        do {
            // scheduler/Stats counts the re-plans and their causes (scripts/soak reports them).
            let before = try await cluster.scheduler.client().stats(.scheduler)
            #expect((before[extra: "replans_asked_joined"] ?? 0) >= 3, "three workers registered")
            #expect(before[extra: "replans_asked_dropped"] == 0)
            let plansBefore = try #require(before[extra: "plans_made"])
            #expect(plansBefore >= 1)
            let victim = Locked<String?>(nil)
            let events = try await cluster.generate(GenerateRequest(promptTokenIDs: prompt, maxTokens: UInt32(maxTokens), ignoreEOS: true)) { index in
                guard index == 10 else { return }
                // SIGKILL the middle stage: no goodbye, its peers find out by failing to reach it.
                let workers = cluster.workers.withLock { $0 }
                let middle = workers[1]
                kill(middle.pid, SIGKILL)
                victim.withLock { $0 = "w2" }
            }
            let finished = try #require(events.finished)
            #expect(finished.reason == .maxTokens, "finished \(finished.reason): \(finished.detail)")
            #expect(events.tokens == reference.tokens, "re-prefilled request must continue the same greedy sequence")
            #expect(victim.withLock { $0 } == "w2")
            #expect(!finished.route.contains("w2"), "final route \(finished.route)")
            let status = try await cluster.status()
            #expect(status.workers.first { $0.workerID == "w2" }?.health == .dead)
            let after = try await eventually { try await cluster.scheduler.client().stats(.scheduler) } until: {
                ($0[extra: "plans_made"] ?? 0) > plansBefore
            }
            #expect((after[extra: "replans_asked_dropped"] ?? 0) >= 1, "the dead worker's drop asked for a plan")
            #expect((after[extra: "plans_made"] ?? 0) > plansBefore, "a plan without the dead worker was made")
            // The survivors hold no KV for it any more.
            for worker in cluster.workers.withLock({ $0 }) where worker.process.isRunning {
                let stats = try await eventually { try await worker.client().stats(.worker) } until: { $0[extra: "kv_used_entries"] == 0 }
                #expect(stats[extra: "kv_used_entries"] == 0)
            }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// A worker restarted under the same id (a new process) loses no request and hangs none:
    /// the scheduler takes it for a new incarnation, re-routes what ran through the old one, and
    /// the new one serves again.
    @Test func restartedWorkerUnderTheSameIdLosesNoRequest() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let prompt: [UInt32] = [11, 22, 33]
        let maxTokens = 120
        let reference = try LatticeCLI.reference(model: model, prompt: prompt, maxTokens: maxTokens)
        let cluster = try await ServingCluster.start(model: model, workers: 3)
        do {
            let restarted = Locked(false)
            let results = try await withThrowingTaskGroup(of: [GenerateEvent].self) { group in
                for n in 0..<3 {
                    group.addTask {
                        try await cluster.generate(GenerateRequest(promptTokenIDs: prompt, maxTokens: UInt32(maxTokens), ignoreEOS: true)) { index in
                            // The first request's 10th token triggers the one restart.
                            if n == 0, index == 10, !restarted.withLock({ $0 }) {
                                restarted.withLock { $0 = true }
                                let old = cluster.workers.withLock { $0[1] }
                                kill(old.pid, SIGKILL)
                                try? await cluster.addWorker("w2")
                            }
                        }
                    }
                }
                var all: [[GenerateEvent]] = []
                for try await events in group { all.append(events) }
                return all
            }
            #expect(restarted.withLock { $0 })
            for events in results {
                let finished = try #require(events.finished)
                #expect(finished.reason == .maxTokens, "finished \(finished.reason): \(finished.detail)")
                #expect(events.tokens == reference.tokens)
            }
            // The new incarnation serves its part again.
            try await cluster.waitUntilServing(workers: 3)
            let after = try await cluster.generate(GenerateRequest(promptTokenIDs: prompt, maxTokens: 3, ignoreEOS: true))
            #expect(after.tokens == Array(reference.tokens.prefix(3)))
            #expect(after.finished?.route.contains("w2") == true, "\(after.finished?.route ?? [])")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}

/// Retries `body` until `done` holds or `limit` (scaled by TestTime) passes; returns the last value.
func eventually<T>(within limit: Duration = .seconds(10), _ body: () async throws -> T, until done: (T) -> Bool) async throws -> T {
    let deadline = ContinuousClock.now + TestTime.scaled(limit)
    var value = try await body()
    while !done(value), ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(50))
        value = try await body()
    }
    return value
}
