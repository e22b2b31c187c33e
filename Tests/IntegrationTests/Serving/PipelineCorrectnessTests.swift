import Client
import Foundation
import LatticeTesting
import Testing

/// The distributed path (scheduler + worker processes on loopback) against the whole model run
/// in one process: the same greedy tokens, and the same last-token log-probability.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct PipelineCorrectnessTests {
    static let prompt: [UInt32] = [1, 72, 101, 108, 108, 111, 2, 9]

    @Test(arguments: [1, 2, 4])
    func sameGreedyTokensAsOneProcess(workers: Int) async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let maxTokens = 12
        let reference = try LatticeCLI.reference(model: model, prompt: Self.prompt, maxTokens: maxTokens)
        let cluster = try await ServingCluster.start(model: model, workers: workers)
        do {
            let events = try await cluster.generate(GenerateRequest(promptTokenIDs: Self.prompt, maxTokens: UInt32(maxTokens),
                                                                   sampling: SamplingParams(greedy: true), ignoreEOS: true))
            #expect(events.tokens == reference.tokens)
            let finished = try #require(events.finished)
            #expect(finished.reason == .maxTokens)
            #expect(finished.generatedTokens == UInt32(maxTokens))
            #expect(finished.route.count == workers, "route \(finished.route)")
            // The last token's log-probability from the last stage vs log-softmax of the reference logits.
            let last = try #require(events.logprobs.last ?? nil)
            let logits = reference.lastLogits
            let maximum = logits.max() ?? 0
            let expected = logits[Int(reference.tokens.last ?? 0)] - maximum - log(logits.reduce(0) { $0 + exp($1 - maximum) })
            #expect(abs(Double(last) - expected) <= 1e-4 * max(1, abs(expected)), "logprob \(last) vs \(expected)")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    @Test func longPromptsArePrefilledInChunks() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let prompt = (0..<37).map { UInt32(3 + $0 * 7 % 250) }
        let reference = try LatticeCLI.reference(model: model, prompt: prompt, maxTokens: 5)
        // Steps of at most 8 tokens: the 37-token prompt runs in 5 chunks on each stage.
        let cluster = try await ServingCluster.start(model: model, workers: 2, workerArguments: ["--max-batch-tokens", "8"])
        do {
            let events = try await cluster.generate(GenerateRequest(promptTokenIDs: prompt, maxTokens: 5, ignoreEOS: true))
            #expect(events.tokens == reference.tokens)
            #expect(events.finished?.reason == .maxTokens)
            for worker in cluster.workers.withLock({ $0 }) {
                #expect((try await worker.client().stats(.worker))[extra: "mean_batch_tokens"] ?? 99 <= 8)
            }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    @Test func tokensStreamOneEventEachAsTheyArrive() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let cluster = try await ServingCluster.start(model: model, workers: 2)
        do {
            let events = try await cluster.generate(GenerateRequest(promptTokenIDs: [5, 6, 7], maxTokens: 6, ignoreEOS: true))
            let indices = events.compactMap { if case .token(let t)? = $0.event { Int(t.index) } else { nil } }
            #expect(indices == Array(0..<6))
            #expect(events.last.map { if case .finished? = $0.event { true } else { false } } == true)
            #expect(Set(events.map(\.requestID)).count == 1)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
