import Foundation
import Testing
import WorkerCore

/// SentencePiece from GGUF against llama.cpp: Fixtures/spm-vocab.gguf is a small byte-fallback
/// vocabulary trained with the sentencepiece package, spm-tokenizer.jsonl llama-tokenize's ids on
/// it (both from scripts/gen-model-fixtures).
@Suite struct SentencePieceTests {
    struct Case: Decodable {
        var prompt: String
        var ids: [Int32]
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func tokenizer() throws -> any Tokenizer {
        try Tokenizers.load(gguf: GGUFFile(path: fixtures.appendingPathComponent("spm-vocab.gguf").path))
    }

    static func cases() throws -> [Case] {
        let text = try String(contentsOf: fixtures.appendingPathComponent("spm-tokenizer.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Case.self, from: Data($0.utf8)) }
    }

    @Test func idsEqualLlamaCppAndDecodingIsByteExact() throws {
        let tokenizer = try Self.tokenizer()
        let cases = try Self.cases()
        #expect(cases.count == 9)
        for reference in cases {
            // llama-tokenize adds a second BOS to a prompt that starts with "<s>" (and warns); prompts
            // here keep one, as llama.cpp's chat path does.
            let expected = reference.ids.starts(with: [1, 1]) ? Array(reference.ids.dropFirst()) : reference.ids
            let ids = try tokenizer.encodePrompt(reference.prompt)
            #expect(ids == expected, "prompt \(reference.prompt.debugDescription)")
            let text = reference.prompt.hasPrefix("<s>") ? String(reference.prompt.dropFirst(3)) : reference.prompt
            #expect(tokenizer.bytes(Array(ids.dropFirst())) == Array(text.utf8), "round trip of \(reference.prompt.debugDescription)")
        }
        #expect(cases.contains { $0.ids.starts(with: [1, 1]) }, "the fixture keeps a prompt that starts with <s>")
    }

    @Test func specialTokensAreMatchedWholeAndUnknownCharactersFallBackToBytes() throws {
        let tokenizer = try Self.tokenizer()
        #expect(tokenizer.beginOfSequence == 1)
        #expect(try tokenizer.encode("<s>") == [1])
        #expect(try tokenizer.encode("<|im_start|><|im_end|>") == [3, 4])
        // The emoji has no piece: its four UTF-8 bytes become the tokens <0xF0> <0x9F> <0x99> <0x82>.
        let emoji = try tokenizer.encode("🙂")
        #expect(emoji.count == 5 && tokenizer.decode(Array(emoji.dropFirst())) == "🙂")
        #expect(tokenizer.decode(emoji) == "🙂")
    }

    @Test func streamingKeepsTheSpacesBetweenWords() throws {
        let tokenizer = try Self.tokenizer()
        let text = "Привет, мир! The capital of France 🙂 is Paris."
        let ids = try tokenizer.encode(text)
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        let streamed = ids.map { stream.append($0) }.joined() + stream.finish()
        #expect(streamed == text)
        #expect((1...ids.count).map { tokenizer.streamText(Array(ids[..<$0])) }.joined() == text)
    }

    @Test func theBestScoringPairMergesFirst() throws {
        let pieces = ["<unk>", "a", "b", "c", "ab", "bc"]
        func tokenizer(_ scores: [Float]) throws -> SentencePieceTokenizer {
            try SentencePieceTokenizer(pieces: pieces, scores: scores, types: [.unknown] + Array(repeating: .normal, count: 5),
                                       beginOfSequence: nil, addsSpacePrefix: false, source: "test")
        }
        // Whichever of "ab" and "bc" scores higher takes the shared "b".
        #expect(try tokenizer([0, -1, -1, -1, -3, -2]).encode("abc") == [1, 5])
        #expect(try tokenizer([0, -1, -1, -1, -2, -3]).encode("abc") == [4, 3])
        // On a tie the leftmost pair merges.
        #expect(try tokenizer([0, -1, -1, -1, -2, -2]).encode("abc") == [4, 3])
        // No piece and no byte tokens: <unk> per byte.
        #expect(try tokenizer([0, -1, -1, -1, -2, -3]).encode("ad") == [1, 0])
        #expect(throws: WorkerError.self) {
            try SentencePieceTokenizer(pieces: pieces, scores: [0], types: [.normal], beginOfSequence: nil, addsSpacePrefix: true, source: "test")
        }
    }
}
