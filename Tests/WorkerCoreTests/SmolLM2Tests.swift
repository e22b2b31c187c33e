import Foundation
import Testing
import WorkerCore

/// The shipped model against llama.cpp on the same Q4_1 file (fixtures from scripts/gen-model-fixtures).
@Suite struct SmolLM2Tests {
    /// Largest difference allowed between our logits and llama.cpp's. The worker follows
    /// llama.cpp's CPU arithmetic step for step (8-bit activations with its lane order, binary16
    /// KV cache and flash-attention sums, its RMS norm, RoPE angles and exponential), so the
    /// logits are the same floats; the fixtures print 5 decimals. One flipped 8-bit rounding
    /// anywhere moves logits by ~0.1 after 30 layers, far outside this.
    static let logitTolerance = 1e-4

    @Test func tokenIDsEqualLlamaCpp() throws {
        let model = try SmolLM2Reference.model()
        for reference in try SmolLM2Reference.cases("smollm2-tokenizer.jsonl") + SmolLM2Reference.cases("smollm2-q4_1-greedy.jsonl") {
            let ids = try model.tokenizer.encode(reference.prompt)
            #expect(ids == reference.prompt_ids, "prompt \(reference.prompt.debugDescription)")
            #expect(model.tokenizer.decode(ids) == reference.prompt, "round trip of \(reference.prompt.debugDescription)")
        }
    }

    /// Greedy tokens equal llama.cpp's on the same Q4_1 file for all 32 steps of all five prompts,
    /// through near-ties (top-two margins down to 0.005), and every step's top-5 logits agree
    /// within `logitTolerance`.
    @Test func quantizedGreedyTokensAndLogitsMatchLlamaCpp() throws {
        let model = try SmolLM2Reference.model()
        let cases = try SmolLM2Reference.cases("smollm2-q4_1-greedy.jsonl")
        #expect(cases.count == 5)
        let engine = try model.makeEngine(kvTokens: 1024, keepsLogits: true)
        for (i, reference) in cases.enumerated() {
            try engine.submit(GenerationRequest(id: UInt64(i), prompt: reference.prompt_ids, maxNewTokens: reference.steps.count))
        }
        let results = try engine.runToCompletion()
        for (i, reference) in cases.enumerated() {
            try SmolLM2Reference.expectAgrees(results[UInt64(i)], with: reference, index: i, tolerance: Self.logitTolerance)
        }
    }

    @Test func chatTemplateIsChatMLWithTheDefaultSystemTurn() throws {
        let model = try SmolLM2Reference.model()
        let template = try ChatTemplate.load(source: model.directory)
        #expect(template == .chatML(defaultSystem: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
        let ids = try model.chatPromptIDs("Hi")
        // <|im_start|> and <|im_end|> are single tokens (ids 1 and 2), not spelled out.
        #expect(ids.first == 1)
        #expect(ids.filter { $0 == 1 }.count == 3 && ids.filter { $0 == 2 }.count == 2)
        #expect(model.endOfSequence == 2)
    }

    @Test func streamingDecodeKeepsCharactersWhole() throws {
        let model = try SmolLM2Reference.model()
        let text = "emoji 🙂👍🏽 日本語"
        let ids = try model.tokenizer.encode(text)
        var stream = StreamingDetokenizer(tokenizer: model.tokenizer)
        var pieces: [String] = []
        for id in ids { pieces.append(stream.append(id)) }
        pieces.append(stream.finish())
        #expect(pieces.joined() == text)
        #expect(!pieces.contains { $0.contains("\u{FFFD}") })
        // The emoji take several byte-level tokens each, so some tokens add nothing on their own.
        #expect(pieces.contains(""))
        #expect((1...ids.count).map { model.tokenizer.streamText(Array(ids[..<$0])) }.joined() == text)
    }
}

extension SmolLM2Tests {
    /// Weights stay in their quantized blocks: the resident bytes are the file's tensor bytes
    /// (the tied LM head shares the embedding), about a sixth of Float32's.
    @Test func residentWeightsAreTheFilesQuantizedBytes() throws {
        let path = try SmolLM2Reference.modelPath()
        let file = try GGUFFile(path: path)
        let stored = file.tensors.values.reduce(0) { $0 + $1.bytes.count }
        let source = try GGUFModel(path: path)
        let runner = try LayerRangeRunner(directory: source, layers: 0..<source.config.layerCount, kvBlocks: 4)
        #expect(runner.stats.weightBytes == stored)
        let parameters = file.tensors.values.reduce(0) { $0 + $1.elementCount }
        // Q4_1 layers at 0.625 bytes a weight and the Q8_0 embedding at 1.06: 0.72 overall (Float32: 4).
        #expect(Double(runner.stats.weightBytes) / Double(parameters) < 0.75)
    }
}
