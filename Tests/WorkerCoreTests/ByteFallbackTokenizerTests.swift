import Foundation
import Testing
import WorkerCore

/// Hugging Face tokenizer.json with byte_fallback (the Llama 2 / Mistral form) against the
/// `tokenizers` package: Fixtures/byte-fallback-tokenizer.json is a small vocabulary it trained,
/// byte-fallback-ids.jsonl its ids (BOS from the post-processor included) for spm-prompts.txt
/// (scripts/reference/make-byte-fallback-tokenizer.py, run by scripts/gen-model-fixtures).
@Suite struct ByteFallbackTokenizerTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func tokenizer() throws -> any Tokenizer {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("byte-fallback-tokenizer.json"))
        return try Tokenizers.load(json: data, source: "byte-fallback-tokenizer.json")
    }

    @Test func idsEqualTheTokenizersPackageAndDecodingIsByteExact() throws {
        let tokenizer = try Self.tokenizer()
        #expect(tokenizer is ByteFallbackBPETokenizer && tokenizer.beginOfSequence == 1)
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("byte-fallback-ids.jsonl"), encoding: .utf8)
        let cases = try text.split(separator: "\n").map { try JSONDecoder().decode(SentencePieceTests.Case.self, from: Data($0.utf8)) }
        #expect(cases.count == 9)
        for reference in cases {
            // A prompt that starts with "<s>" keeps one BOS (the reference adds a second, as llama.cpp does).
            let expected = reference.ids.starts(with: [1, 1]) ? Array(reference.ids.dropFirst()) : reference.ids
            let ids = try tokenizer.encodePrompt(reference.prompt)
            #expect(ids == expected, "prompt \(reference.prompt.debugDescription)")
            let text = reference.prompt.hasPrefix("<s>") ? String(reference.prompt.dropFirst(3)) : reference.prompt
            #expect(tokenizer.bytes(Array(ids.dropFirst())) == Array(text.utf8), "round trip of \(reference.prompt.debugDescription)")
        }
        #expect(cases.contains { $0.ids.starts(with: [1, 1]) }, "the fixture keeps a prompt that starts with <s>")
        // Characters with no token fall back to their UTF-8 bytes: 🙂 is four byte tokens.
        #expect(try tokenizer.encode("🙂").count == 5 && tokenizer.decode(try tokenizer.encode("🙂")) == "🙂")
    }

    @Test func unsupportedFormsAreClearErrors() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("byte-fallback-tokenizer.json"))
        var root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        root["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁"]
        #expect(throws: WorkerError.self) { try Tokenizers.load(json: try JSONSerialization.data(withJSONObject: root)) }
        var model = try #require(root["model"] as? [String: Any])
        model["vocab"] = (model["vocab"] as? [String: Any])?.filter { $0.key != "<0x41>" }
        root["model"] = model
        root["pre_tokenizer"] = NSNull()
        root["added_tokens"] = []
        #expect(throws: WorkerError.self) { try Tokenizers.load(json: try JSONSerialization.data(withJSONObject: root)) }
    }
}
