import Foundation
import Testing
import WorkerCore

@Suite struct SamplingAndConfigTests {
    let prompt: [Int32] = [3, 1, 4, 1, 5]

    func generate(_ sampling: SamplingParameters, tokens: Int = 16) throws -> [Int32] {
        let dir = try TestModels.write(seed: 11)
        let results = try TestModels.generate(directory: dir, stages: 1, requests: [GenerationRequest(id: 1, prompt: prompt, maxNewTokens: tokens, sampling: sampling)])
        return results[1]?.tokens ?? []
    }

    @Test func seededSamplingIsReproducibleAndSeedDependent() throws {
        let a = try generate(SamplingParameters(temperature: 1.5, topP: 1, seed: 1))
        let b = try generate(SamplingParameters(temperature: 1.5, topP: 1, seed: 1))
        let c = try generate(SamplingParameters(temperature: 1.5, topP: 1, seed: 2))
        #expect(a == b)
        #expect(a != c)
        #expect(a.count == 16)
    }

    @Test func tinyTopPIsGreedy() throws {
        #expect(try generate(SamplingParameters(temperature: 1, topP: 1e-6, seed: 9)) == (try generate(.greedy)))
    }

    @Test func greedyTokensHaveTheLargestLogit() throws {
        let dir = try TestModels.write(seed: 11)
        let result = try #require(try TestModels.generate(directory: dir, stages: 2, requests: [GenerationRequest(id: 1, prompt: prompt, maxNewTokens: 5)])[1])
        for (token, logits) in zip(result.tokens, result.logits) {
            #expect(logits[Int(token)] == logits.max())
        }
        // Random weights still make the next token depend on the prompt.
        var prompts: [GenerationRequest] = []
        for i in 0..<6 { prompts.append(GenerationRequest(id: UInt64(i), prompt: [Int32(i * 7), Int32(i * 3 + 1)], maxNewTokens: 1)) }
        let results = try TestModels.generate(directory: dir, stages: 1, requests: prompts)
        let firsts = results.values.compactMap { $0.tokens.first }
        #expect(Set(firsts).count > 1)
    }

    @Test func configParsingAndErrors() throws {
        let good = Data(#"{"model_type":"llama","hidden_size":8,"intermediate_size":16,"num_hidden_layers":2,"num_attention_heads":2,"vocab_size":10,"rope_scaling":{"type":"linear","factor":2.0}}"#.utf8)
        let config = try LlamaConfig.parse(good)
        #expect(config.kvHeadCount == 2 && config.headDim == 4 && config.ropeScaling == .linear(factor: 2))
        // θ = 10000, d = 4: frequencies 1 and 1/100, halved by linear scaling.
        let frequencies = config.ropeInverseFrequencies()
        #expect(abs(frequencies[0] - 0.5) < 1e-7 && abs(frequencies[1] - 0.005) < 1e-9)
        let bad: [String] = [
            #"{"hidden_size":8}"#,
            #"{"model_type":"gpt2","hidden_size":8,"intermediate_size":16,"num_hidden_layers":2,"num_attention_heads":2,"vocab_size":10}"#,
            #"{"hidden_size":8,"intermediate_size":16,"num_hidden_layers":2,"num_attention_heads":3,"num_key_value_heads":2,"vocab_size":10}"#,
            #"{"hidden_size":8,"intermediate_size":16,"num_hidden_layers":2,"num_attention_heads":2,"vocab_size":10,"rope_scaling":{"type":"yarn","factor":2}}"#,
            "not json",
        ]
        for text in bad { #expect(throws: WorkerError.self) { try LlamaConfig.parse(Data(text.utf8)) } }
    }

    @Test func llama3RopeScalingByHand() {
        // d = 8, θ = 10000: base frequencies 1, 0.1, 0.01, 0.001 → wavelengths 2π, 62.8, 628, 6283.
        // original context 1024, low 1, high 4: keep below 256, divide by 8 above 1024, blend between.
        let config = LlamaConfig(hiddenSize: 8, intermediateSize: 8, layerCount: 1, headCount: 1, kvHeadCount: 1, vocabSize: 4,
                                 ropeScaling: .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 1024))
        let f = config.ropeInverseFrequencies()
        let smooth = (1024 / (2 * Double.pi / 0.01) - 1) / 3
        #expect(abs(f[0] - 1) < 1e-7 && abs(f[1] - 0.1) < 1e-8)
        #expect(abs(Double(f[2]) - ((1 - smooth) * 0.01 / 8 + smooth * 0.01)) < 1e-9)
        #expect(abs(f[3] - 0.001 / 8) < 1e-10)
    }

    @Test func corruptSafetensorsAreRejected() throws {
        let dir = try TestModels.write()
        let file = dir + "/model.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes = bytes.prefix(bytes.count / 2)    // truncated: tensor ranges run past the end
        try bytes.write(to: URL(fileURLWithPath: file))
        #expect(throws: WorkerError.self) { try ModelDirectory(path: dir) }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: file))
        #expect(throws: WorkerError.self) { try ModelDirectory(path: dir) }
        #expect(throws: WorkerError.self) { try ModelDirectory(path: dir + "/missing") }
    }
}

@Suite struct RandomModelTests {
    @Test func sameSeedSameBytesOtherSeedOtherBytes() throws {
        let a = try TestModels.write(seed: 5), b = try TestModels.write(seed: 5), c = try TestModels.write(seed: 6)
        func bytes(_ dir: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors")) }
        #expect(try bytes(a) == (try bytes(b)))
        #expect(try bytes(a) != (try bytes(c)))
        let config = try Data(contentsOf: URL(fileURLWithPath: a + "/config.json"))
        #expect(try LlamaConfig.parse(config) == TestModels.tinyConfig)
    }
}
