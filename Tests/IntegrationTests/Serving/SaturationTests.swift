import Client
import Foundation
import LatticeTesting
import Testing

/// An emulated stack under more load than it can serve at once, on a machine so busy that a
/// worker goes unscheduled for longer than the scheduler's dead-after: the worker is late, not
/// dead, so it stays registered and serving, and every request finishes.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct SaturationTests {
    @Test func aSaturatedStackWithAStarvedWorkerKeepsItsWorkersAndLosesNoRequest() async throws {
        let count = 200, maxTokens = 12
        let cluster = try await ServingCluster.emulatedChain(kvTokens: 16384)
        do {
            let finished = Locked(0)
            let run = Task {
                try await cluster.generateConcurrently(count: count, maxTokens: maxTokens, idPrefix: "s", deadline: .seconds(90)) {
                    finished.withLock { $0 += 1 }
                }
            }
            // Mid-run, the middle worker gets no CPU for longer than dead-after (1.5 s): its
            // heartbeats stop, and it answers again only when it runs again.
            try await Task.sleep(for: TestTime.scaled(.milliseconds(500)))
            let victim = cluster.workers.withLock { $0[1] }
            kill(victim.pid, SIGSTOP)
            try await Task.sleep(for: TestTime.scaled(.seconds(2)))   // past dead-after, scaled alike
            let doneWhileStopped = finished.withLock { $0 }
            kill(victim.pid, SIGCONT)
            let results = try await run.value

            #expect(doneWhileStopped < count, "the load was over before the worker was stopped; nothing was tested")
            #expect(results.count == count)
            let complete = results.filter { $0.finished?.reason == .maxTokens && $0.tokens.count == maxTokens }
            #expect(complete.count == count, "\(results.compactMap(\.finished).filter { $0.reason != .maxTokens }.prefix(3).map(\.detail))")
            let log = cluster.scheduler.log
            #expect(!log.contains("worker dropped"), "\(log.split(separator: "\n").filter { $0.contains("dropped") }.prefix(3))")
            #expect(log.contains("silent worker answered its probe"), "the stopped worker's silence was never noticed")
            let status = try await cluster.status()
            #expect(status.workers.count == 3 && status.workers.allSatisfy { $0.health == .serving },
                    "\(status.workers.map { "\($0.workerID) \($0.health)" })")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
