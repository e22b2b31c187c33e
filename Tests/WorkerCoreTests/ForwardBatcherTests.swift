import Foundation
import Testing
import WorkerCore

/// Continuous batching over real stages, with no sockets: the first stage's hidden states are
/// handed to the second as the service would send them.
@Suite struct ForwardBatcherTests {
    /// Outcomes delivered by a batcher, awaited in order of arrival.
    final class Outcomes: Sendable {
        let stream: AsyncStream<(String, SliceOutcome)>
        let sink: AsyncStream<(String, SliceOutcome)>.Continuation
        init() { (stream, sink) = AsyncStream.makeStream() }
        func deliver(_ outcomes: [(AcceptedSlice<String>, SliceOutcome)]) { for (slice, outcome) in outcomes { sink.yield((slice.tag, outcome)) } }
        func next(_ count: Int) async -> [String: SliceOutcome] {
            var seen: [String: SliceOutcome] = [:]
            for await (tag, outcome) in stream {
                seen[tag] = outcome
                if seen.count == count { break }
            }
            return seen
        }
    }

    static func loaded(_ dir: String, _ layers: Range<Int>) async throws -> WorkerStage {
        let stage = WorkerStageTests.stage(dir)
        _ = try await stage.load(start: layers.lowerBound, end: layers.upperBound, model: nil, epoch: nil) { _, _ in }
        return stage
    }

    static func expectedTokens(_ dir: String, prompts: [[Int32]]) throws -> [Int32] {
        let pipeline = try InProcessPipeline(stages: [LayerRangeRunner(directory: ModelDirectory(path: dir), layers: 0..<4, kvBlocks: 64, blockSize: 4)])
        return try prompts.enumerated().map { i, prompt in
            try pipeline.step(entries: [BatchEntry(requestID: UInt64(i), position: 0, tokenCount: prompt.count, wantsToken: true)], tokens: prompt).tokens[0].token
        }
    }

    @Test(arguments: [512, 2])   // 2: every prompt is longer than a step and runs chunked
    func twoStagesGiveTheTokensOfTheWholeModel(maxBatchTokens: Int) async throws {
        let dir = try TestModels.write()
        let prompts: [[Int32]] = [[1, 2, 3], [4, 5, 6, 7, 8], [9]]
        let expected = try Self.expectedTokens(dir, prompts: prompts)
        let first = try await Self.loaded(dir, 0..<2), last = try await Self.loaded(dir, 2..<4)
        let hidden = Outcomes(), tokens = Outcomes()
        let head = ForwardBatcher<String>(stage: first, maxBatchTokens: maxBatchTokens) { hidden.deliver($0) }
        let tail = ForwardBatcher<String>(stage: last, maxBatchTokens: maxBatchTokens) { tokens.deliver($0) }
        let loops = [Task { await head.run() }, Task { await tail.run() }]
        defer { for loop in loops { loop.cancel() } }

        let slices = prompts.enumerated().map { i, prompt in
            ForwardSlice(requestID: "r\(i)", positions: (0..<prompt.count).map { UInt32($0) }, tokenIDs: prompt.map { UInt32($0) },
                         layers: (0, 2), nextHop: (2, 4))
        }
        try head.accept(slices, tags: slices.map(\.requestID))
        let states = await hidden.next(prompts.count)
        for (i, prompt) in prompts.enumerated() {
            guard case .hidden(let h)? = states["r\(i)"] else { Issue.record("r\(i): no hidden states: \(String(describing: states["r\(i)"]))"); continue }
            #expect(h.rows == prompt.count && h.width == 32)
            let next = ForwardSlice(requestID: "r\(i)", positions: (0..<prompt.count).map { UInt32($0) },
                                    hidden: ForwardSlice.Hidden(shape: [UInt32(h.rows), UInt32(h.width)], encoding: h.encoding, bytes: h.bytes),
                                    layers: (2, 4), replyTo: "scheduler")
            try tail.accept([next], tags: [next.requestID])
        }
        let sampled = await tokens.next(prompts.count)
        for (i, token) in expected.enumerated() {
            guard case .token(let id, _, let position)? = sampled["r\(i)"] else { Issue.record("r\(i): no token"); continue }
            #expect(id == UInt32(token) && position == UInt32(prompts[i].count))
        }
        #expect(first.ledger.queued == 0 && last.ledger.queued == 0 && last.ledger.batchTokens == 9)
    }

    @Test func aStepTheStageRefusesFailsOnlyItsOwnItem() async throws {
        let dir = try TestModels.write()
        let stage = try await Self.loaded(dir, 0..<4)
        let outcomes = Outcomes()
        let batcher = ForwardBatcher<String>(stage: stage, maxBatchTokens: 512) { outcomes.deliver($0) }
        // Requests the stage already cached past what the ledger knows: its step is refused.
        _ = try await stage.step(StepBatch(entries: [BatchEntry(requestID: 1, position: 0, tokenCount: 2, wantsToken: true)], input: .tokens([1, 2]))).get()
        let bad = ForwardSlice(requestID: "bad", positions: [0], tokenIDs: [3], layers: (0, 4), replyTo: "s")
        let good = ForwardSlice(requestID: "good", positions: [0, 1], tokenIDs: [3, 4], layers: (0, 4), replyTo: "s")
        try batcher.accept([bad, good], tags: ["bad", "good"])
        let loop = Task { await batcher.run() }
        defer { loop.cancel() }
        let results = await outcomes.next(2)
        guard case .failure(let reason)? = results["bad"] else { Issue.record("the bad item must fail: \(String(describing: results["bad"]))"); return }
        #expect(reason.contains("batch"))
        guard case .token? = results["good"] else { Issue.record("the good item must get a token"); return }
    }

    /// Continuous batching with chunked prefill: a prompt longer than a step is run a chunk per
    /// step beside the other work, so a short item queued behind it is answered long before the
    /// prompt is through, and the prompt still gets the whole model's token.
    @Test func shortWorkIsNotHeldUpByALongPromptsChunks() async throws {
        let dir = try TestModels.write()
        let long: [Int32] = (0..<40).map { Int32(1 + $0 % 50) }
        let expected = try Self.expectedTokens(dir, prompts: [long, [7, 8]])
        let stage = try await Self.loaded(dir, 0..<4)
        let outcomes = Outcomes()
        let batcher = ForwardBatcher<String>(stage: stage, maxBatchTokens: 4) { outcomes.deliver($0) }
        let prompt = ForwardSlice(requestID: "long", positions: (0..<40).map { UInt32($0) }, tokenIDs: long.map { UInt32($0) }, layers: (0, 4), replyTo: "s")
        let short = ForwardSlice(requestID: "short", positions: [0, 1], tokenIDs: [7, 8], layers: (0, 4), replyTo: "s")
        try batcher.accept([prompt], tags: ["long"])
        try batcher.accept([short], tags: ["short"])
        let loop = Task { await batcher.run() }
        defer { loop.cancel() }
        var order: [String] = [], results: [String: SliceOutcome] = [:]
        for await (tag, outcome) in outcomes.stream {
            order.append(tag)
            results[tag] = outcome
            if order.count == 2 { break }
        }
        #expect(order == ["short", "long"])
        guard case .token(let a, _, let at)? = results["long"], case .token(let b, _, _)? = results["short"] else {
            Issue.record("both must get a token: \(results)"); return
        }
        #expect(a == UInt32(expected[0]) && at == 40 && b == UInt32(expected[1]))
        // 40 prompt tokens in steps of at most 4, three of which it shared with the short item.
        #expect(stage.ledger.batches >= 10 && stage.ledger.batchTokens == 42 && Double(stage.ledger.batchTokens) / Double(stage.ledger.batches) <= 4)
    }

    @Test func logProbabilityIsALogSoftmax() {
        let p = logProbability(of: 1, in: [0, log(3), 0])
        #expect(abs(p - log(0.6)) < 1e-6)
        #expect(logProbability(of: 5, in: [1, 2]) == -.infinity)
    }
}
