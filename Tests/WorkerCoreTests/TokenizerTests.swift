import Foundation
import Testing
import WorkerCore

@Suite struct TokenizerTests {
    @Test func byteTokenizerRoundTrips() throws {
        let t = ByteTokenizer(vocabSize: 256)
        #expect(try t.encode("hé") == [104, 195, 169])
        #expect(t.decode([104, 195, 169]) == "hé")
        #expect(throws: WorkerError.self) { try ByteTokenizer(vocabSize: 64).encode("a") }
    }

    @Test func byteLevelBPEMergesByRank() throws {
        // Vocabulary over GPT-2's byte alphabet ("Ġ" is the space byte).
        let json = #"""
        {"model": {"type": "BPE",
          "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "w": 5, "r": 6, "d": 7, "he": 8, "ll": 9, "hell": 10, "hello": 11, "Ġw": 12, "or": 13, "Ġwor": 14, "Ġworld": 15, "ld": 16, "!": 17},
          "merges": ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"]},
         "added_tokens": [{"id": 18, "content": "<eos>"}]}
        """#
        let t = try ByteLevelBPETokenizer(json: Data(json.utf8))
        #expect(try t.encode("hello world!") == [11, 15, 17])
        #expect(t.decode([11, 15, 17, 18]) == "hello world!<eos>")
        #expect(try t.encode("low") == [2, 3, 5])
        #expect(throws: WorkerError.self) { try t.encode("xyz") }
        #expect(throws: WorkerError.self) { try ByteLevelBPETokenizer(json: Data(#"{"model":{"type":"Unigram"}}"#.utf8)) }
    }

    @Test func splitRegexFromTheFileIsUsed() throws {
        // Llama 3's pattern groups digits by three; GPT-2's keeps a digit run whole.
        let vocab = #"{"1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "12": 5, "123": 6, "45": 7, "1234": 8, "12345": 9}"#
        let merges = #"["1 2", "12 3", "123 4", "1234 5", "4 5"]"#
        let llama3 = #"""
        {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
           {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated"},
           {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]},
         "model": {"type": "BPE", "vocab": VOCAB, "merges": MERGES}}
        """#.replacingOccurrences(of: "VOCAB", with: vocab).replacingOccurrences(of: "MERGES", with: merges)
        let gpt2 = #"{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": VOCAB, "merges": MERGES}}"#
            .replacingOccurrences(of: "VOCAB", with: vocab).replacingOccurrences(of: "MERGES", with: merges)
        #expect(try ByteLevelBPETokenizer(json: Data(llama3.utf8)).encode("12345") == [6, 7])
        #expect(try ByteLevelBPETokenizer(json: Data(gpt2.utf8)).encode("12345") == [9])
    }

    @Test func modelDirectoryUsesItsTokenizer() throws {
        let dir = try TestModels.write()
        #expect(try LocalModel(path: dir).tokenizer is ByteTokenizer)
        let json = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}}"#
        try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        let model = try LocalModel(path: dir)
        #expect(try model.tokenizer.encode("abab") == [2, 2])
    }
}
