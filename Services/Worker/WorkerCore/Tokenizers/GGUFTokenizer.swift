/// The tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata: byte-level BPE (`gpt2`) or
/// SentencePiece (`llama`).
enum GGUFTokenizer {
    /// llama.cpp's token types: control and user-defined tokens are matched whole in text.
    private static let controlType = 3, userDefinedType = 4

    static func load(_ file: GGUFFile) throws -> any Tokenizer {
        let path = file.path
        guard let model = file.metadata["tokenizer.ggml.model"]?.string else {
            throw WorkerError.badModel("\(path): metadata key 'tokenizer.ggml.model' is not a string")
        }
        let tokens = try strings("tokenizer.ggml.tokens", in: file)
        let types = file.metadata["tokenizer.ggml.token_type"]?.array?.map { $0.int ?? 1 } ?? []
        guard types.isEmpty || types.count == tokens.count else {
            throw WorkerError.badModel("\(path): tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
        }
        switch model {
        case "gpt2": return try byteLevelBPE(file, tokens: tokens, types: types)
        case "llama": return try sentencePiece(file, tokens: tokens, types: types)
        default:
            throw WorkerError.badModel("\(path): tokenizer.ggml.model '\(model)' is not supported; only 'gpt2' (byte-level BPE) and 'llama' (SentencePiece)")
        }
    }

    /// A string array from the metadata, naming the key and index that is wrong.
    private static func strings(_ key: String, in file: GGUFFile) throws -> [String] {
        guard let values = file.metadata[key]?.array else {
            throw WorkerError.badModel("\(file.path): metadata key '\(key)' is missing or not an array")
        }
        return try values.enumerated().map { index, value in
            guard let text = value.string else { throw WorkerError.badModel("\(file.path): \(key)[\(index)] is not a string") }
            return text
        }
    }

    private static func byteLevelBPE(_ file: GGUFFile, tokens: [String], types: [Int]) throws -> any Tokenizer {
        let path = file.path
        guard file.metadata["tokenizer.ggml.merges"] != nil else {
            throw WorkerError.badModel("\(path): metadata key 'tokenizer.ggml.merges' is missing (BPE needs its merges)")
        }
        let merges = try strings("tokenizer.ggml.merges", in: file)
        var vocab: [String: Int32] = [:], specials: [String: Int32] = [:]
        for (id, token) in tokens.enumerated() {
            if vocab[token] == nil { vocab[token] = Int32(id) }
            if !types.isEmpty, [controlType, userDefinedType].contains(types[id]) { specials[token] = Int32(id) }
        }
        let pre = file.metadata["tokenizer.ggml.pre"]?.string ?? "default"
        guard let patterns = preTokenizerPatterns[pre] else {
            throw WorkerError.badModel("\(path): pre-tokenizer '\(pre)' (tokenizer.ggml.pre) is not supported (supported: \(preTokenizerPatterns.keys.sorted().joined(separator: ", ")))")
        }
        // llama.cpp adds BOS by default only for the Llama 3 family's pre-tokenizers.
        let bos = try beginOfSequence(file, byDefault: ["llama3", "llama-v3", "llama-bpe"].contains(pre),
                                   defaultID: 11, vocabSize: tokens.count)
        return try ByteLevelBPETokenizer(vocab: vocab, merges: merges, patterns: patterns, specials: specials,
                                         beginOfSequence: bos, source: path)
    }

    /// SentencePiece with llama.cpp's defaults for absent keys: scores 0, normal tokens, BOS 1
    /// added to prompts, a space prefixed to the text.
    private static func sentencePiece(_ file: GGUFFile, tokens: [String], types: [Int]) throws -> any Tokenizer {
        let path = file.path, meta = file.metadata
        var scores = [Float](repeating: 0, count: tokens.count)
        if let values = meta["tokenizer.ggml.scores"]?.array {
            guard values.count == tokens.count else {
                throw WorkerError.badModel("\(path): tokenizer.ggml.scores has \(values.count) entries for \(tokens.count) tokens")
            }
            scores = try values.enumerated().map { index, value in
                guard let score = value.double else { throw WorkerError.badModel("\(path): tokenizer.ggml.scores[\(index)] is not a number") }
                return Float(score)
            }
        }
        let tokenTypes = try (types.isEmpty ? Array(repeating: 1, count: tokens.count) : types).enumerated().map { id, raw in
            guard let type = SentencePieceTokenizer.TokenType(rawValue: raw) else {
                throw WorkerError.badModel("\(path): tokenizer.ggml.token_type[\(id)] is \(raw), not a llama.cpp token type (1 to 6)")
            }
            return type
        }
        return try SentencePieceTokenizer(pieces: tokens, scores: scores, types: tokenTypes,
                                          beginOfSequence: beginOfSequence(file, byDefault: true, defaultID: 1, vocabSize: tokens.count),
                                          addsSpacePrefix: flag(file, "tokenizer.ggml.add_space_prefix", default: true), source: path)
    }

    /// The BOS token prompts start with, when `tokenizer.ggml.add_bos_token` (else llama.cpp's
    /// default for the tokenizer) asks for one.
    private static func beginOfSequence(_ file: GGUFFile, byDefault: Bool, defaultID: Int, vocabSize: Int) throws -> Int32? {
        guard try flag(file, "tokenizer.ggml.add_bos_token", default: byDefault) else { return nil }
        let value = file.metadata["tokenizer.ggml.bos_token_id"] ?? .unsigned(UInt64(defaultID))
        guard let id = value.int, id < vocabSize else {
            throw WorkerError.badModel("\(file.path): metadata key 'tokenizer.ggml.bos_token_id' must be a token id below \(vocabSize) (tokenizer.ggml.tokens), got \(value); set it or tokenizer.ggml.add_bos_token = false")
        }
        return Int32(id)
    }

    private static func flag(_ file: GGUFFile, _ key: String, default fallback: Bool) throws -> Bool {
        guard let value = file.metadata[key] else { return fallback }
        guard let flag = value.bool else { throw WorkerError.badModel("\(file.path): metadata key '\(key)' must be a bool, got \(value)") }
        return flag
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
