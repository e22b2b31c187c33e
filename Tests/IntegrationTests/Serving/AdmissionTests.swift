import Client
import Foundation
import LatticeTesting
import Testing

/// Admission cannot wedge: the queue is bounded, a request no plan can ever fit is failed
/// without blocking those behind it, and with no plan a request waits a bounded time and is told why.
@Suite(.timeLimit(.minutes(TestTime.minutes(1))))
struct AdmissionTests {
    static func generate(_ scheduler: TestService, _ request: GenerateRequest) async throws -> [GenerateEvent] {
        let client = scheduler.client()
        var events: [GenerateEvent] = []
        do {
            for try await event in client.stream(Methods.Scheduler.generate.name, request, as: GenerateEvent.self, deadline: TestTime.scaled(.seconds(40))) { events.append(event) }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        return events
    }

    static func queueLength(_ scheduler: TestService) async throws -> Int {
        let client = scheduler.client()
        defer { Task { await client.close() } }
        return Int(try await client.call(Methods.Scheduler.clusterStatus.name, ClusterStatusRequest(), as: ClusterStatusResponse.self).queueLength)
    }

    @Test func withNoPlanARequestWaitsABoundedTimeAndSeesWhy() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        try await LatticeTesting.withService(.scheduler, arguments: ["--model", model, "--no-plan-wait", "1"]) { scheduler in
            let started = ContinuousClock.now
            let events = try await Self.generate(scheduler, GenerateRequest(promptTokenIDs: [1, 2, 3], maxTokens: 4))
            let waited = ContinuousClock.now - started
            let queued = events.compactMap { if case .queued(let q)? = $0.event { q } else { nil } }.first
            #expect(queued?.reason.contains("no plan") == true && queued?.reason.contains("no worker has registered") == true, "\(String(describing: queued))")
            let finished = try #require(events.finished)
            #expect(finished.reason == .error)
            #expect(finished.detail.contains("UNAVAILABLE") && finished.detail.contains("--no-plan-wait"), "\(finished.detail)")
            #expect(waited >= .milliseconds(900) && waited < .seconds(1) + TestTime.scaled(.seconds(9)))
        }
    }

    @Test func aFullQueueAnswersResourceExhausted() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        try await LatticeTesting.withService(.scheduler, arguments: ["--model", model, "--queue-limit", "2", "--no-plan-wait", "30"]) { scheduler in
            let waiting = (0..<2).map { _ in Task { try await Self.generate(scheduler, GenerateRequest(promptTokenIDs: [1, 2], maxTokens: 2)) } }
            defer { for task in waiting { task.cancel() } }
            let deadline = ContinuousClock.now + TestTime.scaled(.seconds(10))
            while try await Self.queueLength(scheduler) < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await Self.queueLength(scheduler) == 2)
            do {
                _ = try await Self.generate(scheduler, GenerateRequest(promptTokenIDs: [1, 2], maxTokens: 2))
                Issue.record("a third request was queued past --queue-limit 2")
            } catch let status as Status {
                #expect(status.code == .resourceExhausted)
                #expect(status.message.contains("admission queue is full") && status.message.contains("--queue-limit"), "\(status.message)")
            }
            let client = scheduler.client()
            #expect(try await client.stats(.scheduler)[extra: "generate_refused_queue_full"] == 1)
            await client.close()
        }
    }

    /// A request that the cluster which turns up can never hold is failed with the reason, and
    /// the requests queued behind it are served.
    @Test func aRequestThatCanNeverFitDoesNotBlockTheOnesBehindIt() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let scheduler = try await LatticeTesting.start(.scheduler, arguments: ["--model", model, "--heartbeat-interval", "\(TestTime.seconds(0.2))", "--no-plan-wait", "30"])
        var worker: TestService?
        do {
            let big = Task { try await Self.generate(scheduler, GenerateRequest(promptTokenIDs: [1, 2, 3], maxTokens: 400, ignoreEOS: true)) }
            while try await Self.queueLength(scheduler) < 1 { try await Task.sleep(for: .milliseconds(20)) }
            let small = (0..<3).map { _ in Task { try await Self.generate(scheduler, GenerateRequest(promptTokenIDs: [4, 5], maxTokens: 3, ignoreEOS: true)) } }
            while try await Self.queueLength(scheduler) < 4 { try await Task.sleep(for: .milliseconds(20)) }
            // 128 tokens of KV: 115 fit under the 0.9 high-water mark; the big one needs 403.
            worker = try await LatticeTesting.start(.worker, arguments: ["--scheduler", scheduler.address, "--model", model, "--worker-id", "only", "--kv-tokens", "128"])
            let refused = try #require(try await big.value.finished)
            #expect(refused.reason == .error)
            #expect(refused.detail.contains("RESOURCE_EXHAUSTED") && refused.detail.contains("no KV room"), "\(refused.detail)")
            for task in small {
                let finished = try #require(try await task.value.finished)
                #expect(finished.reason == .maxTokens, "\(finished.detail)")
                #expect(finished.generatedTokens == 3)
            }
        } catch {
            await worker?.stop()
            await scheduler.stop()
            throw error
        }
        await worker?.stop()
        await scheduler.stop()
    }
}
