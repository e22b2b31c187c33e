/// The tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata.
enum GGUFTokenizer {
    /// llama.cpp's token types: control and user-defined tokens are matched whole in text.
    private static let controlType = 3, userDefinedType = 4

    static func load(_ file: GGUFFile) throws -> any Tokenizer {
        let meta = file.metadata, path = file.path
        guard let model = meta["tokenizer.ggml.model"]?.string else {
            throw WorkerError.badModel("\(path): metadata key 'tokenizer.ggml.model' is not a string")
        }
        guard model == "gpt2" else {
            throw WorkerError.badModel("\(path): tokenizer.ggml.model '\(model)' is not supported; only 'gpt2' (byte-level BPE)")
        }
        guard let tokenValues = meta["tokenizer.ggml.tokens"]?.array else {
            throw WorkerError.badModel("\(path): metadata key 'tokenizer.ggml.tokens' is missing or not an array")
        }
        let tokens = try tokenValues.enumerated().map { index, value in
            guard let text = value.string else { throw WorkerError.badModel("\(path): tokenizer.ggml.tokens[\(index)] is not a string") }
            return text
        }
        let types = meta["tokenizer.ggml.token_type"]?.array?.map { $0.int ?? 1 } ?? []
        guard types.isEmpty || types.count == tokens.count else {
            throw WorkerError.badModel("\(path): tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
        }
        guard let mergeValues = meta["tokenizer.ggml.merges"]?.array else {
            throw WorkerError.badModel("\(path): metadata key 'tokenizer.ggml.merges' is missing (BPE needs its merges)")
        }
        let merges = try mergeValues.enumerated().map { index, value in
            guard let text = value.string else { throw WorkerError.badModel("\(path): tokenizer.ggml.merges[\(index)] is not a string") }
            return text
        }
        var vocab: [String: Int32] = [:], specials: [String: Int32] = [:]
        for (id, token) in tokens.enumerated() {
            if vocab[token] == nil { vocab[token] = Int32(id) }
            if !types.isEmpty, [controlType, userDefinedType].contains(types[id]) { specials[token] = Int32(id) }
        }
        let pre = meta["tokenizer.ggml.pre"]?.string ?? "default"
        guard let patterns = preTokenizerPatterns[pre] else {
            throw WorkerError.badModel("\(path): pre-tokenizer '\(pre)' (tokenizer.ggml.pre) is not supported (supported: \(preTokenizerPatterns.keys.sorted().joined(separator: ", ")))")
        }
        return try ByteLevelBPETokenizer(vocab: vocab, merges: merges, patterns: patterns, specials: specials, source: path)
    }

    /// The split regexes each `tokenizer.ggml.pre` name stands for (as the converters write them).
    static let preTokenizerPatterns: [String: [String]] = {
        let gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#
        let llama3 = #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        let digitsThenGPT2 = [#"\p{N}"#, gpt2]
        return [
            "default": [gpt2], "gpt2": [gpt2], "gpt-2": [gpt2],
            "llama3": [llama3], "llama-v3": [llama3], "llama-bpe": [llama3], "smaug-bpe": [llama3],
            "smollm": digitsThenGPT2, "starcoder": digitsThenGPT2, "refact": digitsThenGPT2,
        ]
    }()
}
