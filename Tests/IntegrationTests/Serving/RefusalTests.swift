import Client
import Foundation
import LatticeTesting
import Testing

/// Workers refuse what they cannot serve with a clear Status and keep serving; the scheduler
/// answers bad Generate requests with INVALID_ARGUMENT before any event.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct RefusalTests {
    static func status(_ body: () async throws -> Void) async -> Status? {
        do { try await body(); return nil } catch let status as Status { return status } catch { return Status(.unknown, "\(error)") }
    }

    @Test func workerRefusesForwardsItCannotServeAndStaysHealthy() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        try await LatticeTesting.withService(.worker, arguments: ["--model", model, "--kv-tokens", "32", "--block-size", "16"]) { worker in
            let client = worker.client()
            func forward(_ item: ForwardItem) async -> Status? {
                await Self.status { _ = try await client.call(Methods.Worker.forward.name, ForwardRequest(items: [item]), as: ForwardResponse.self) }
            }
            let first = ForwardItem(requestID: "r", positions: [0, 1, 2], tokenIDs: [1, 2, 3], start: 0, end: 2,
                                    route: [RouteHop(address: "127.0.0.1:1", start: 2, end: 4, workerID: "next")], replyTo: "127.0.0.1:1")

            // No layers loaded yet.
            let unloaded = await forward(first)
            #expect(unloaded?.code == .failedPrecondition)
            #expect(unloaded?.message.contains("no layers loaded") == true)

            // Load [0, 2) through worker/LoadLayers (progress items, then the result).
            var result: LoadLayersResult?
            for try await event in client.stream(Methods.Worker.loadLayers.name, LoadLayersRequest(modelDir: model, start: 0, end: 2), as: LoadLayersEvent.self) {
                if case .result(let r)? = event.event { result = r }
            }
            #expect(result?.loaded == LayerRange(start: 0, end: 2))
            #expect(result?.firstStage == true && result?.lastStage == false)
            // Unwrapped first: #expect on this UInt64? trips AddressSanitizer inside Swift Testing's
            // AnyHashable conversion (a stack-buffer-overflow read of 9 bytes from an 8-byte slot).
            let capacity = try #require(result?.kvCapacityEntries)
            #expect(capacity == 32 * 2)

            var wrongLayers = first
            wrongLayers.start = 1
            #expect(await forward(wrongLayers)?.code == .failedPrecondition)
            var hiddenOnFirst = first
            hiddenOnFirst.tokenIDs = []
            hiddenOnFirst.hidden = HiddenStates(data: [UInt8](repeating: 0, count: 3 * 64 * 4), shape: [3, 64])
            #expect(await forward(hiddenOnFirst)?.code == .invalidArgument)
            var outOfVocab = first
            outOfVocab.tokenIDs = [1, 2, 999]
            #expect(await forward(outOfVocab)?.code == .invalidArgument)
            var gap = first
            gap.positions = [0, 2, 3]
            #expect(await forward(gap)?.code == .invalidArgument)
            var noRoute = first
            noRoute.route = []
            #expect(await forward(noRoute)?.code == .invalidArgument)
            var skipsAhead = first
            skipsAhead.positions = [5, 6, 7]
            #expect(await forward(skipsAhead)?.code == .failedPrecondition)
            #expect(await Self.status { _ = try await client.call(Methods.Worker.forward.name, ForwardRequest(), as: ForwardResponse.self) }?.code == .invalidArgument)
            // 40 tokens do not fit a 32-token KV cache.
            var tooLong = first
            tooLong.positions = (0..<40).map { UInt32($0) }
            tooLong.tokenIDs = (0..<40).map { UInt32($0) }
            let full = await forward(tooLong)
            #expect(full?.code == .resourceExhausted)
            #expect(full?.message.contains("KV cache") == true)

            // Still healthy, nothing held, every refusal counted.
            #expect(try await client.health(.worker).status == .serving)
            let stats = try await client.stats(.worker)
            #expect(stats[extra: "kv_used_entries"] == 0)
            #expect(stats[extra: "forward_rejected"] == 9)
            #expect(stats[extra: "layers_end"] == 2)
            await client.close()
        }
    }

    @Test func badGenerateRequestsGetInvalidArgument() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let cluster = try await ServingCluster.start(model: model, workers: 1)
        do {
            let cases: [(GenerateRequest, String)] = [
                (GenerateRequest(maxTokens: 4), "give a prompt"),
                (GenerateRequest(promptTokenIDs: [1, 256], maxTokens: 4), "outside the vocabulary"),
                (GenerateRequest(promptTokenIDs: [1], maxTokens: 0), "max_tokens"),
                (GenerateRequest(promptTokenIDs: [1], maxTokens: 4, sampling: SamplingParams(temperature: -1)), "temperature"),
                (GenerateRequest(promptTokenIDs: [1], maxTokens: 4, sampling: SamplingParams(temperature: 1, topP: 2)), "top_p"),
                (GenerateRequest(promptTokenIDs: [1], maxTokens: 4, sampling: SamplingParams(greedy: true, topK: 5)), "top_k"),
            ]
            for (request, words) in cases {
                let status = await Self.status { _ = try await cluster.generate(request) }
                #expect(status?.code == .invalidArgument, "\(request)")
                #expect(status?.message.contains(words) == true, "\(status?.message ?? "no error") should mention \(words)")
            }
            // Too long for any worker's KV cache even when empty: refused, not queued forever.
            let huge = await Self.status { _ = try await cluster.generate(GenerateRequest(promptTokenIDs: [1, 2], maxTokens: 60_000)) }
            #expect(huge?.code == .resourceExhausted)
            // A text prompt is tokenized by the scheduler (byte tokenizer of the tiny model).
            let events = try await cluster.generate(GenerateRequest(prompt: "hi", maxTokens: 2, ignoreEOS: true))
            #expect(events.finished?.promptTokens == 2)
            #expect(events.tokens.count == 2)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
