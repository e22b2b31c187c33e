import Client
import Foundation
import LatticeTesting
import Testing

/// Membership changes without a stall. On a 2-layer model the fallback plan makes three workers
/// two pipelines, w1 → w3 and w2 alone; a fourth joins w2's (w2 [0,1) → w4), and with w2 gone
/// w1 → w3 is the whole plan. Either way w1 and w3 keep their layers.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct MembershipTests {
    static let prompt: [UInt32] = [9, 8, 7]

    /// A worker stopped with SIGTERM takes no new request, finishes the ones it holds, leaves the
    /// scheduler's registry and exits 0; nothing is lost or re-routed.
    @Test func aWorkerStoppedWithSIGTERMFinishesItsRequestsAndDeregisters() async throws {
        let model = try LatticeCLI.tinyModel(layers: 2)
        let maxTokens = 500
        let reference = try LatticeCLI.reference(model: model, prompt: Self.prompt, maxTokens: maxTokens).tokens
        let cluster = try await ServingCluster.start(model: model, workers: 3)
        do {
            try await Self.expectPlan(cluster, ["w1": 0..<1, "w3": 1..<2, "w2": 0..<2])
            let drained = Locked<(status: Client.ExitStatus?, killed: Bool)?>(nil)
            let stopping = Locked<Task<Void, Never>?>(nil)
            let results = try await Self.generateMany(cluster, count: 6, prefix: "d", maxTokens: maxTokens) {
                let w2 = cluster.workers.withLock { $0[1] }
                stopping.withLock { $0 = Task { let result = await w2.stop(timeout: .seconds(20)); drained.withLock { $0 = result } } }
                // While it drains, new requests go around it.
                _ = try await eventually { try await cluster.status() } until: { $0.workers.first { $0.workerID == "w2" }?.health == .draining }
                let during = try await cluster.generate(GenerateRequest(promptTokenIDs: Self.prompt, maxTokens: 3, requestID: "during", ignoreEOS: true))
                #expect(during.finished?.route == ["w1", "w3"] && during.tokens == Array(reference.prefix(3)))
            }
            await stopping.withLock { $0 }?.value
            for (id, events) in results {
                let finished = try #require(events.finished)
                #expect(finished.reason == .maxTokens, "\(id): \(finished.detail)")
                #expect(events.tokens == reference, "\(id)")
            }
            #expect(results.contains { $0.1.finished?.route == ["w2"] }, "some request must have finished on the draining worker")
            let exit = try #require(drained.withLock { $0 })
            #expect(exit.status == Client.ExitStatus.exited(0) && !exit.killed, "w2: \(String(describing: exit.status)) killed \(exit.killed)")
            #expect(!cluster.scheduler.log.contains("route failed"), "no request is handed back when the others keep their layers")
            let w2Log = cluster.workers.withLock { $0[1] }.log
            #expect(w2Log.contains("draining: the scheduler routes no new request here") && w2Log.contains("deregistered"))
            let status = try await cluster.status()
            #expect(status.workers.map(\.workerID).sorted() == ["w1", "w3"])
            #expect(status.workers.allSatisfy { $0.health == .serving && $0.kvUsedEntries == 0 })
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// When the plan without the stopping worker moves the other hops of its requests (one
    /// pipeline, w1 → w2, becomes w1 alone), the requests are handed back and re-routed at once,
    /// none lost; the worker still leaves cleanly.
    @Test func aStoppingWorkerWhoseRoutesMoveHandsItsRequestsBack() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let maxTokens = 300
        let reference = try LatticeCLI.reference(model: model, prompt: Self.prompt, maxTokens: maxTokens).tokens
        let cluster = try await ServingCluster.start(model: model, workers: 2)
        do {
            try await Self.expectPlan(cluster, ["w1": 0..<2, "w2": 2..<4])
            let stopping = Locked<Task<(status: Client.ExitStatus?, killed: Bool), Never>?>(nil)
            let results = try await Self.generateMany(cluster, count: 4, prefix: "h", maxTokens: maxTokens, busy: ["w1", "w2"]) {
                let w2 = cluster.workers.withLock { $0[1] }
                stopping.withLock { $0 = Task { await w2.stop(timeout: .seconds(20)) } }
            }
            let exit = await stopping.withLock { $0 }?.value
            #expect(exit?.status == Client.ExitStatus.exited(0) && exit?.killed == false, "w2: \(String(describing: exit))")
            for (id, events) in results {
                let finished = try #require(events.finished)
                #expect(finished.reason == .maxTokens, "\(id): \(finished.detail)")
                #expect(events.tokens == reference, "\(id)")
                #expect(finished.route == ["w1"], "\(id) finished on \(finished.route)")
            }
            #expect(cluster.scheduler.log.contains("moved the layers of its route"))
            let left = try await cluster.status().workers.map { "\($0.workerID) \($0.health)" }
            #expect(left == ["w1 serving"], "\(left)")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// A request that no longer fits once a worker leaves is failed with the reason, and the
    /// requests queued behind it are served. On a 1-layer model each worker is its own pipeline:
    /// only the big one (w2) could ever hold the big request, and while it runs a long request
    /// the big one waits at the head of the queue, the small ones behind it. w2 then stops: it
    /// drains, its long request ends, and the plan without it fails the big one and serves the
    /// small ones. The long request runs until the test cancels it once w2 drains (16,000 tokens
    /// would take minutes), so that no step here races its length on a loaded machine.
    @Test func aRequestThatNoLongerFitsAfterAWorkerLeavesIsFailedAndTheOnesBehindAreServed() async throws {
        let model = try LatticeCLI.tinyModel(layers: 1)
        let longReference = try LatticeCLI.reference(model: model, prompt: Self.prompt, maxTokens: 1000).tokens
        let smallReference = try LatticeCLI.reference(model: model, prompt: [4, 5], maxTokens: 3).tokens
        let cluster = try await ServingCluster.start(model: model, workers: 0, schedulerArguments: ["--max-tokens-per-request", "16384"])
        do {
            try await cluster.addWorker("w1", arguments: ["--kv-tokens", "64"])
            try await cluster.addWorker("w2", arguments: ["--kv-tokens", "18000"])
            try await cluster.waitUntilServing(workers: 2)
            let started = Locked(false)
            let long = Task {
                try await cluster.generate(GenerateRequest(promptTokenIDs: Self.prompt, maxTokens: 16000, requestID: "long", ignoreEOS: true)) { _ in
                    started.withLock { $0 = true }
                }
            }
            while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
            // 403 tokens: more than w1 holds, and more than w2 admits beside the long request (16,003
            // of its 90% of 18,000).
            let big = Task { try await cluster.generate(GenerateRequest(promptTokenIDs: [1, 2, 3], maxTokens: 400, requestID: "big", ignoreEOS: true)) }
            _ = try await eventually { try await cluster.status() } until: { $0.queueLength == 1 }
            let small = (0..<3).map { n in
                Task { try await cluster.generate(GenerateRequest(promptTokenIDs: [4, 5], maxTokens: 3, requestID: "small\(n)", ignoreEOS: true)) }
            }
            let queued = try await eventually { try await cluster.status() } until: { $0.queueLength == 4 }
            #expect(queued.queueLength == 4, "the small requests wait behind the big one")
            let w2 = cluster.workers.withLock { $0[1] }
            let stopping = Task { await w2.stop(timeout: .seconds(30)) }
            // Once w2 drains (it takes nothing new), the long request it still runs is ended.
            _ = try await eventually { try await cluster.status() } until: { $0.workers.first { $0.workerID == "w2" }?.health == .draining }
            let client = cluster.scheduler.client()
            let cancel = try await client.call(Methods.Scheduler.cancel.name, CancelRequest(requestID: "long"), as: CancelResponse.self)
            await client.close()
            #expect(cancel.found, "the long request should still be running on the draining worker")
            let stopped = await stopping.value
            #expect(stopped.status == Client.ExitStatus.exited(0) && !stopped.killed)
            let refused = try #require(try await big.value.finished)
            #expect(refused.reason == .error && refused.detail.contains("no KV room"), "\(refused.reason): \(refused.detail)")
            for task in small {
                let events = try await task.value
                #expect(events.finished?.reason == .maxTokens && events.tokens == smallReference, "\(events.finished?.detail ?? "")")
                #expect(events.finished?.route == ["w1"])
            }
            let finished = try await long.value
            let tokens = finished.tokens
            #expect(finished.finished?.reason == .cancelled, "\(String(describing: finished.finished?.reason)): \(finished.finished?.detail ?? "")")
            #expect(tokens.count > 10 && tokens.prefix(longReference.count) == longReference.prefix(tokens.count))
            #expect(finished.finished?.route == ["w2"], "the long request ran on the worker that drained")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// A worker joins: the new plan moves w2's range and gives w4 layers; w1 and w3 keep theirs,
    /// serve throughout (never reloading), and their requests are never interrupted. The requests
    /// on w2 are re-routed, and none is lost.
    @Test func aReplanThatMovesOneWorkersRangeLeavesTheOthersServing() async throws {
        let model = try LatticeCLI.tinyModel(layers: 2)
        let maxTokens = 900
        let reference = try LatticeCLI.reference(model: model, prompt: Self.prompt, maxTokens: maxTokens).tokens
        let cluster = try await ServingCluster.start(model: model, workers: 3)
        do {
            try await Self.expectPlan(cluster, ["w1": 0..<1, "w3": 1..<2, "w2": 0..<2])
            let epoch = try await cluster.status().planEpoch
            let samples = Locked([ClusterStatusResponse]())
            let watching = Locked(true)
            let watcher = Task {
                while watching.withLock({ $0 }) {
                    if let status = try? await cluster.status() { samples.withLock { $0.append(status) } }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            let loadsBefore = Locked([Int]())
            let results = try await Self.generateMany(cluster, count: 6, prefix: "m", maxTokens: maxTokens) {
                loadsBefore.withLock { $0 = [0, 2].map { Self.loads(cluster, $0) } }
                try await cluster.addWorker("w4")
                try await cluster.waitUntilServing(workers: 4)
            }
            watching.withLock { $0 = false }
            await watcher.value
            try await Self.expectPlan(cluster, ["w1": 0..<1, "w3": 1..<2, "w2": 0..<1, "w4": 1..<2])
            let schedulerLog = cluster.scheduler.log
            var untouched = 0
            for (id, events) in results {
                let finished = try #require(events.finished)
                #expect(finished.reason == .maxTokens, "\(id): \(finished.detail)")
                #expect(events.tokens == reference, "\(id)")
                let rerouted = schedulerLog.split(separator: "\n").contains { $0.contains("route failed") && $0.contains("request=\(id)]") }
                if finished.route == ["w1", "w3"], !rerouted { untouched += 1 }
            }
            #expect(untouched >= 1, "some request must have run on w1 → w3 across the re-plan without a re-route")
            #expect(schedulerLog.contains("moved the layers of its route"), "the requests on w2 must have been re-routed")
            // Serving throughout: in every status taken across the re-plan, w1 and w3 serve.
            let seen = samples.withLock { $0 }
            #expect(seen.contains { $0.planEpoch > epoch }, "the watcher saw no new plan")
            for status in seen {
                for id in ["w1", "w3"] {
                    let health = status.workers.first { $0.workerID == id }?.health
                    #expect(health == .serving, "\(id) was \(String(describing: health)) at plan epoch \(status.planEpoch)")
                }
            }
            #expect([0, 2].map { Self.loads(cluster, $0) } == loadsBefore.withLock { $0 }, "w1 and w3 must not reload")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// Layer loads the worker at `index` has logged.
    static func loads(_ cluster: ServingCluster, _ index: Int) -> Int {
        cluster.workers.withLock { $0[index] }.log.components(separatedBy: "loaded layers").count - 1
    }

    /// Waits until the plan gives exactly these ranges.
    static func expectPlan(_ cluster: ServingCluster, _ expected: [String: Range<Int>]) async throws {
        let status = try await eventually { try await cluster.status() } until: { status in
            Dictionary(uniqueKeysWithValues: status.workers.compactMap { w in w.layers.map { (w.workerID, Int($0.start)..<Int($0.end)) } }
                .filter { !$0.1.isEmpty }) == expected
        }
        let plan = status.workers.map { "\($0.workerID)=[\($0.layers?.start ?? 0),\($0.layers?.end ?? 0))" }
        let got = Dictionary(uniqueKeysWithValues: status.workers.compactMap { w in w.layers.map { (w.workerID, Int($0.start)..<Int($0.end)) } }.filter { !$0.1.isEmpty })
        #expect(got == expected, "plan \(plan)")
    }

    /// Runs `count` requests at once; once the `busy` workers hold some of them, runs `change` once.
    static func generateMany(_ cluster: ServingCluster, count: Int, prefix: String, maxTokens: Int, busy: [String] = ["w1", "w2"],
                             change: @escaping @Sendable () async throws -> Void) async throws -> [(String, [GenerateEvent])] {
        let changed = Locked(false)
        return try await withThrowingTaskGroup(of: (String, [GenerateEvent]).self) { group in
            for n in 0..<count {
                group.addTask {
                    let id = "\(prefix)\(n)"
                    return (id, try await cluster.generate(GenerateRequest(promptTokenIDs: Self.prompt, maxTokens: UInt32(maxTokens), requestID: id, ignoreEOS: true)) { index in
                        guard n == 0, index == 10, !changed.withLock({ $0 }) else { return }
                        changed.withLock { $0 = true }
                        let status = try? await eventually { try await cluster.status() } until: { status in
                            busy.allSatisfy { id in (status.workers.first { $0.workerID == id }?.activeRequests ?? 0) > 0 }
                        }
                        #expect(busy.allSatisfy { id in (status?.workers.first { $0.workerID == id }?.activeRequests ?? 0) > 0 },
                                "both pipelines must hold requests before the change")
                        do { try await change() } catch { Issue.record("the change failed: \(error)") }
                    })
                }
            }
            var all: [(String, [GenerateEvent])] = []
            for try await result in group { all.append(result) }
            #expect(changed.withLock { $0 })
            return all
        }
    }
}
