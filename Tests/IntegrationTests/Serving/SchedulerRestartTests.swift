import Client
import Foundation
import LatticeTesting
import Testing
import Wire

/// The request id names one generation: clients that lose the scheduler retry by id and get
/// their result (issue 12, chaos).
@Suite(.serialized) struct SchedulerRestartTests {
    /// A scheduler SIGKILLed mid-generation and started again on its port loses no request: the
    /// client library retries under the same id, the workers register again, and the client
    /// sees the uninterrupted run's tokens, each once.
    @Test func killedSchedulerLosesNoRequest() async throws {
        // Wide enough that 600 tokens take a while, so the kill (at the 6th token the client
        // sees) lands mid-generation; the worker is also paused across the kill, so the killed
        // scheduler cannot finish the run while the client catches up.
        let model = try LatticeCLI.tinyModel(layers: 4, hidden: 256, intermediate: 688)
        let prompt: [UInt32] = [5, 6, 7]
        let maxTokens = 600
        let reference = try LatticeCLI.reference(model: model, prompt: prompt, maxTokens: maxTokens)
        let schedulerArguments = ["--model", model, "--heartbeat-interval", "\(TestTime.seconds(0.2))", "--dead-after", "\(TestTime.seconds(1.5))"]
        // One worker: the new scheduler's plan is the old one's, so the worker keeps its layers
        // (no reload clears what the killed scheduler left there).
        let cluster = try await ServingCluster.start(model: model, workers: 1)
        let old = cluster.scheduler
        var restarted: TestService?
        do {
            let client = ServiceClient(host: old.host, port: old.port, reconnect: .never)
            let request = GenerateRequest(promptTokenIDs: prompt, maxTokens: UInt32(maxTokens), requestID: "restart-1", ignoreEOS: true)
            var events: [GenerateEvent] = []
            for try await event in client.generate(request, deadline: TestTime.scaled(.seconds(60))) {
                events.append(event)
                if case .token(let token)? = event.event, token.index == 5, restarted == nil {
                    let workers = cluster.workers.withLock { $0 }
                    for worker in workers { kill(worker.pid, SIGSTOP) }
                    kill(old.pid, SIGKILL)
                    restarted = try await LatticeTesting.start(.scheduler, arguments: schedulerArguments + ["--listen", old.address])
                    for worker in workers { kill(worker.pid, SIGCONT) }
                }
            }
            await client.close()
            let finished = try #require(events.finished)
            #expect(finished.reason == .maxTokens, "finished \(finished.reason): \(finished.detail)")
            #expect(events.tokens == reference.tokens)
            #expect(events.compactMap { if case .token(let t)? = $0.event { Int(t.index) } else { nil } } == Array(0..<maxTokens))
            // The new process ran it: the retry reached it and the workers registered with it.
            let service = try #require(restarted)
            let log = try await eventually({ service.log }, until: { $0.contains("request finished") && $0.contains("restart-1") })
            #expect(log.contains("request finished") && log.contains("restart-1"), "new scheduler's log:\n\(log.suffix(2000))")
            // Nothing the killed scheduler admitted stays on the workers (no one else would release it).
            for worker in cluster.workers.withLock({ $0 }) {
                let probe = worker.client()
                let active = try await eventually({ try await probe.stats(.worker)[extra: "active_requests"] ?? -1 }, until: { $0 == 0 })
                await probe.close()
                #expect(active == 0, "worker at \(worker.address) still holds \(active) requests")
            }
        } catch {
            await restarted?.stop(timeout: .seconds(5))
            await cluster.stop()
            throw error
        }
        await restarted?.stop(timeout: .seconds(5))
        await cluster.stop()
    }

    /// Without a restart, a second stream under an id in flight attaches to that generation
    /// (one run, the same tokens), a retry shortly after it finished gets its events again, and
    /// another request under a used id is refused ALREADY_EXISTS.
    @Test func retriesByIdAttachOrReplay() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let cluster = try await ServingCluster.start(model: model, workers: 1)
        do {
            let request = GenerateRequest(promptTokenIDs: [3, 4], maxTokens: 80, requestID: "twice", ignoreEOS: true)
            async let first = cluster.generate(request)
            async let second = cluster.generate(request)
            let (a, b) = try await (first, second)
            #expect(a.tokens.count == 80 && a.tokens == b.tokens)
            #expect(a.finished?.reason == .maxTokens && b.finished?.reason == .maxTokens)
            let replay = try await cluster.generate(request)
            #expect(replay.tokens == a.tokens && replay.finished == a.finished)
            let log = cluster.scheduler.log
            #expect(log.components(separatedBy: "request finished").count - 1 == 1, "one generation expected:\n\(log.suffix(2000))")
            #expect(log.contains("request retried; attached"))

            var other = request
            other.maxTokens = 5
            await #expect {
                _ = try await cluster.generate(other)
            } throws: { ($0 as? Status)?.code == .alreadyExists }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
