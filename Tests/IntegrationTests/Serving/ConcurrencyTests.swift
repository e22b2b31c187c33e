import Client
import Foundation
import LatticeTesting
import Testing

/// Many requests at once through a 2-stage pipeline: workers batch them together (continuous
/// batching) and pass them hop to hop as one Forward per step, and every request still gets its
/// own one-process greedy tokens.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct ConcurrencyTests {
    @Test func concurrentRequestsAreBatchedAndStayCorrect() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let prompts: [[UInt32]] = [[1, 2, 3], [40, 41, 42, 43, 44], [7], [100, 90, 80, 70]]
        let maxTokens = 48
        let references = try prompts.map { try LatticeCLI.reference(model: model, prompt: $0, maxTokens: maxTokens).tokens }
        let cluster = try await ServingCluster.start(model: model, workers: 2)
        do {
            let results = try await withThrowingTaskGroup(of: (Int, [GenerateEvent]).self) { group in
                for copy in 0..<4 {
                    for (index, prompt) in prompts.enumerated() {
                        group.addTask {
                            (index, try await cluster.generate(GenerateRequest(promptTokenIDs: prompt, maxTokens: UInt32(maxTokens),
                                                                               requestID: "c\(copy)-\(index)", ignoreEOS: true)))
                        }
                    }
                }
                var all: [(Int, [GenerateEvent])] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.count == 16)
            for (index, events) in results {
                #expect(events.tokens == references[index], "prompt \(prompts[index])")
                #expect(events.finished?.reason == .maxTokens)
            }
            // Batched hops: the workers loop decode among themselves, and at every hop the decode
            // steps of the requests waiting there travel as one Forward, not one per request per
            // step. Beyond the prompts' Forwards, each hop sees one or two Forwards per decode step
            // (requests join the loop as they arrive and fall into step within a lap or two), far
            // from one per request (16, as when the scheduler drove every step).
            for worker in cluster.workers.withLock({ $0 }) {
                let stats = try await worker.client().stats(.worker)
                #expect((stats[extra: "mean_batch_tokens"] ?? 0) > 1.5, "mean batch \(stats[extra: "mean_batch_tokens"] ?? 0)")
                #expect(stats[extra: "kv_used_entries"] == 0)
                let decodeCalls = (stats[extra: "forward_calls"] ?? 0) - Double(results.count)
                let perStep = decodeCalls / Double(maxTokens - 1)
                print("Forward calls per decode step at a hop: \(perStep) for \(results.count) requests")
                #expect(perStep <= Double(results.count) / 4, "\(perStep) Forward calls per decode step at one hop for \(results.count) requests")
            }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// 100 generations at once over 4 cpu workers of unlike thread counts, planned by
    /// placement-service from their measured profiles: every output is the one-process output.
    @Test func aHundredGenerationsOverFourUnlikeWorkersEqualOneProcess() async throws {
        let model = try LatticeCLI.tinyModel(layers: 6)
        let prompts: [[UInt32]] = [[1, 2, 3], [40, 41, 42, 43, 44], [7], [100, 90, 80, 70], [250, 3, 17, 9, 66, 12]]
        let maxTokens = 16
        let references = try prompts.map { try LatticeCLI.reference(model: model, prompt: $0, maxTokens: maxTokens).tokens }
        try await LatticeTesting.withService(.placement) { placement in
            let cluster = try await ServingCluster.start(model: model, workers: 0, schedulerArguments: ["--placement", placement.address])
            do {
                // None holds the whole model: every route has two hops or more.
                for threads in 1...4 { try await cluster.addWorker("t\(threads)", arguments: ["--threads", "\(threads)", "--layer-capacity", "3"]) }
                try await cluster.waitUntilServing(workers: 4)
                let results = try await withThrowingTaskGroup(of: (Int, [GenerateEvent]).self) { group in
                    for n in 0..<100 {
                        group.addTask {
                            let index = n % prompts.count
                            return (index, try await cluster.generate(GenerateRequest(promptTokenIDs: prompts[index], maxTokens: UInt32(maxTokens),
                                                                                      requestID: "h\(n)", ignoreEOS: true)))
                        }
                    }
                    var all: [(Int, [GenerateEvent])] = []
                    for try await result in group { all.append(result) }
                    return all
                }
                #expect(results.count == 100)
                for (index, events) in results {
                    #expect(events.tokens == references[index], "prompt \(prompts[index]): \(events.finished?.detail ?? "")")
                    #expect(events.finished?.reason == .maxTokens)
                    #expect((events.finished?.route.count ?? 0) >= 2)
                }
                let status = try await cluster.status()
                #expect(status.workers.allSatisfy { $0.kvUsedEntries == 0 } && status.activeRequests == 0)
            } catch {
                await cluster.stop()
                throw error
            }
            await cluster.stop()
        }
    }

    @Test func requestsWithoutKVRoomWaitQueuedAndAreNeverDropped() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        // 64 tokens of KV per worker; at the 0.9 high-water mark one 43-token request fits, two do not.
        let cluster = try await ServingCluster.start(model: model, workers: 2, workerArguments: ["--kv-tokens", "64"])
        do {
            let reference = try LatticeCLI.reference(model: model, prompt: [1, 2, 3], maxTokens: 40).tokens
            let results = try await withThrowingTaskGroup(of: [GenerateEvent].self) { group in
                for index in 0..<3 {
                    group.addTask {
                        try await cluster.generate(GenerateRequest(promptTokenIDs: [1, 2, 3], maxTokens: 40, requestID: "q\(index)", ignoreEOS: true))
                    }
                }
                var all: [[GenerateEvent]] = []
                for try await events in group { all.append(events) }
                return all
            }
            let queued = results.filter { events in events.contains { if case .queued? = $0.event { true } else { false } } }
            #expect(queued.count >= 1, "at least one request must have waited in the queue")
            for events in results {
                #expect(events.finished?.reason == .maxTokens)
                #expect(events.tokens == reference)
            }
            #expect(queued.allSatisfy { ($0.finished?.queueSeconds ?? 0) > 0 })
            let status = try await cluster.status()
            #expect(status.queueLength == 0 && status.workers.allSatisfy { $0.kvUsedEntries == 0 })
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
