import Foundation
import Testing
import WorkerCore

/// The BOS token a prompt starts with, as llama.cpp adds it (its `add_bos` per tokenizer, overridden
/// by `tokenizer.ggml.add_bos_token`), and never twice.
@Suite struct BeginOfSequenceTests {
    /// A GGUF holding only a byte-level BPE vocabulary ("a", "b", "ab", a BOS token).
    static func bpe(pre: String, addBOS: Bool?) throws -> any Tokenizer {
        var file = GGUFTestFile()
        file.metadata = [("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string(pre)),
                         ("tokenizer.ggml.tokens", .strings(["a", "b", "ab", "<|begin_of_text|>"])),
                         ("tokenizer.ggml.merges", .strings(["a b"])), ("tokenizer.ggml.bos_token_id", .u32(3))]
        if let addBOS { file.metadata.append(("tokenizer.ggml.add_bos_token", .bool(addBOS))) }
        return try Tokenizers.load(gguf: GGUFFile(path: file.write(name: "bos-\(pre)-\(String(describing: addBOS))")))
    }

    @Test func bytePairModelsAddItAsLlamaCppDoes() throws {
        // Llama 3's pre-tokenizer adds BOS unless the metadata says not to; SmolLM's does not.
        #expect(try Self.bpe(pre: "llama-bpe", addBOS: nil).encodePrompt("ab") == [3, 2])
        #expect(try Self.bpe(pre: "llama-bpe", addBOS: false).encodePrompt("ab") == [2])
        #expect(try Self.bpe(pre: "smollm", addBOS: nil).encodePrompt("ab") == [2])
        #expect(try Self.bpe(pre: "smollm", addBOS: true).encodePrompt("ab") == [3, 2])
    }

    @Test func sentencePieceAddsItOnceEvenWhenTheTextStartsWithIt() throws {
        let tokenizer = try SentencePieceTests.tokenizer()
        // llama-tokenize on spm-vocab.gguf: "hello world" → 1 480 262 489 489 488 271 282 489 491.
        let expected: [Int32] = [1, 480, 262, 489, 489, 488, 271, 282, 489, 491]
        #expect(try tokenizer.encodePrompt("hello world") == expected)
        // A chat template that writes "<s>" itself keeps one BOS (llama.cpp's chat path strips it).
        #expect(try tokenizer.encodePrompt("<s>hello world") == expected)
    }

    @Test func theBOSIdMustBeInTheVocabulary() throws {
        var file = GGUFTestFile()
        file.metadata = [("tokenizer.ggml.model", .string("llama")), ("tokenizer.ggml.tokens", .strings(["<unk>", "a"])),
                         ("tokenizer.ggml.bos_token_id", .u32(7))]
        let path = try file.write(name: "bos-out-of-range")
        #expect(throws: WorkerError.self) { try Tokenizers.load(gguf: GGUFFile(path: path)) }
    }
}
