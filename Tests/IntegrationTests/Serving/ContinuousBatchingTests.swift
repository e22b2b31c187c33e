import Client
import Foundation
import LatticeTesting
import Testing

/// Continuous batching on live workers: a long prompt is prefilled in chunks interleaved with
/// the decode steps of the requests already running at each hop, so they keep producing tokens
/// while it fills, and both still get the one-process tokens.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct ContinuousBatchingTests {
    @Test func decodeKeepsRunningWhileALongPromptPrefills() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let running: [UInt32] = [5, 6, 7]
        let long = (0..<1200).map { UInt32(3 + ($0 * 7) % 250) }
        let runningReference = try LatticeCLI.reference(model: model, prompt: running, maxTokens: 600).tokens
        let longReference = try LatticeCLI.reference(model: model, prompt: long, maxTokens: 3).tokens
        // Steps of at most 4 tokens: the long prompt takes 300+ steps on each of the two hops.
        let cluster = try await ServingCluster.start(model: model, workers: 2, workerArguments: ["--max-batch-tokens", "4", "--kv-tokens", "8192"])
        do {
            let clock = ContinuousClock()
            let tokenTimes = Locked([ContinuousClock.Instant]())
            let window = Locked<(start: ContinuousClock.Instant, end: ContinuousClock.Instant)?>(nil)
            let longEvents = Locked<[GenerateEvent]>([])
            let client = cluster.scheduler.client()
            let runningEvents = try await cluster.generate(GenerateRequest(promptTokenIDs: running, maxTokens: 2000, requestID: "running", ignoreEOS: true)) { index in
                tokenTimes.withLock { $0.append(clock.now) }
                guard index == 20 else { return }
                // The running request decodes; now a long prompt arrives. When it has its first
                // token, the running request is cancelled (its tokens so far are checked).
                Task {
                    let start = clock.now
                    let firstToken = Locked<ContinuousClock.Instant?>(nil)
                    let events = (try? await cluster.generate(GenerateRequest(promptTokenIDs: long, maxTokens: 3, requestID: "long", ignoreEOS: true)) { _ in
                        firstToken.withLock { $0 = $0 ?? clock.now }
                    }) ?? []
                    longEvents.withLock { $0 = events }
                    window.withLock { $0 = (start, firstToken.withLock { $0 } ?? clock.now) }
                    _ = try? await client.call(Methods.Scheduler.cancel.name, CancelRequest(requestID: "running"), as: CancelResponse.self)
                }
            }
            await client.close()
            let long = longEvents.withLock { $0 }
            #expect(long.tokens == longReference, "long prompt: \(long.finished?.detail ?? "no finish")")
            #expect(runningEvents.finished?.reason == .cancelled)
            let checked = min(runningEvents.tokens.count, runningReference.count)
            #expect(checked > 20 && Array(runningEvents.tokens.prefix(checked)) == Array(runningReference.prefix(checked)))
            let (start, end) = try #require(window.withLock { $0 })
            let times = tokenTimes.withLock { $0 }
            let during = times.filter { $0 > start && $0 < end }
            var gaps: [Duration] = []
            var previous = times.last { $0 <= start } ?? start
            for time in during + [times.first { $0 >= end } ?? end] {
                gaps.append(time - previous)
                previous = time
            }
            let prefill = end - start
            let maxGap = gaps.max() ?? prefill
            print("long prompt to first token: \(prefill); the running request's tokens meanwhile: \(during.count), longest gap \(maxGap)")
            // Were the prefill not interleaved, the running request would stall while each hop
            // runs the whole prompt: two gaps of about half the prefill each, and hardly a token.
            #expect(during.count >= 20, "the running request produced \(during.count) tokens during a \(prefill) prefill")
            #expect(maxGap * 3 < prefill, "longest gap \(maxGap) of the running request during a \(prefill) prefill")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
