import Foundation

/// Byte-level BPE (GPT-2, Llama 3, SmolLM style), built from `tokenizer.json` or GGUF metadata.
///
/// Added and special tokens are matched whole first; the text between them is split by the
/// pre-tokenizer's regexes in turn (each splits every piece the previous one produced), and
/// each piece's bytes are merged by rank.
public struct ByteLevelBPETokenizer: Tokenizer {
    /// GPT-2's split pattern (the ByteLevel pre-tokenizer's default).
    public static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    private let splitters: [NSRegularExpression]
    private let vocab: [String: Int32]
    private let idToToken: [Int32: String]
    private let specials: SpecialTokens
    private let mergeRanks: [String: Int]      // "left right" -> rank
    private let byteToUnicode: [Character]
    private let unicodeToByte: [Character: UInt8]
    public let beginOfSequence: Int32?

    /// - Parameters:
    ///   - vocab: token text (in the byte-to-character alphabet) to id.
    ///   - merges: "left right" pairs, best first.
    ///   - patterns: pre-tokenizer regexes, applied in order.
    ///   - specials: tokens matched whole in the input text, before any splitting.
    ///   - beginOfSequence: the token `encodePrompt` starts with (nil: none).
    public init(vocab: [String: Int32], merges: [String], patterns: [String], specials: [String: Int32],
                beginOfSequence: Int32? = nil, source: String) throws {
        splitters = try patterns.map { pattern in
            do { return try NSRegularExpression(pattern: pattern) } catch {
                throw WorkerError.badModel("\(source): pre-tokenizer regex does not compile: \(pattern)")
            }
        }
        self.vocab = vocab
        self.beginOfSequence = beginOfSequence
        self.specials = SpecialTokens(specials)
        idToToken = Dictionary(vocab.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var ranks: [String: Int] = [:]
        for (rank, merge) in merges.enumerated() where ranks[merge] == nil { ranks[merge] = rank }
        mergeRanks = ranks
        (byteToUnicode, unicodeToByte) = Self.byteMapping()
    }

    /// Reads a Hugging Face `tokenizer.json` with a byte-level BPE model.
    public init(json data: Data, source: String = "tokenizer.json") throws {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any] else {
            throw WorkerError.badModel("\(source): not a tokenizer.json object with a 'model'")
        }
        guard (model["type"] as? String) == "BPE", let vocabObject = model["vocab"] as? [String: NSNumber] else {
            throw WorkerError.badModel("\(source): only BPE tokenizers are supported (model.type \(model["type"] ?? "missing"))")
        }
        if (model["byte_fallback"] as? Bool) == true {
            throw WorkerError.badModel("\(source): SentencePiece-style BPE (byte_fallback) is ByteFallbackBPETokenizer's; load it with Tokenizers.load(json:)")
        }
        var vocab = vocabObject.mapValues { Int32($0.intValue) }
        var specials: [String: Int32] = [:]
        for case let added as [String: Any] in (root["added_tokens"] as? [Any]) ?? [] {
            if let id = (added["id"] as? NSNumber)?.int32Value, let content = added["content"] as? String {
                vocab[content] = id
                specials[content] = id
            }
        }
        var merges: [String] = []
        for merge in (model["merges"] as? [Any]) ?? [] {
            if let text = merge as? String { merges.append(text) }
            else if let pair = merge as? [String], pair.count == 2 { merges.append(pair[0] + " " + pair[1]) }
        }
        let patterns = Self.splitPatterns(root["pre_tokenizer"])
        try self.init(vocab: vocab, merges: merges, patterns: patterns.isEmpty ? [Self.gpt2Pattern] : patterns,
                      specials: specials, source: source)
    }

    /// The regexes of the pre-tokenizer: `Split` patterns, `Digits` (individual digits) and a
    /// `ByteLevel` that splits with GPT-2's pattern, in order (alone or inside a `Sequence`).
    static func splitPatterns(_ node: Any?) -> [String] {
        guard let object = node as? [String: Any] else { return [] }
        switch object["type"] as? String {
        case "Split":
            if let pattern = object["pattern"] as? [String: Any], let regex = pattern["Regex"] as? String { return [regex] }
            return []
        case "Digits": return (object["individual_digits"] as? Bool) == true ? [#"\p{N}"#] : [#"\p{N}+"#]
        case "ByteLevel": return (object["use_regex"] as? Bool) == false ? [] : [gpt2Pattern]
        case "Sequence": return ((object["pretokenizers"] as? [Any]) ?? []).flatMap(splitPatterns)
        default: return []
        }
    }

    /// GPT-2's reversible map from bytes to printable characters.
    static func byteMapping() -> ([Character], [Character: UInt8]) {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var codes = printable
        var extra = 0
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
        }
        var forward = [Character](repeating: " ", count: 256), backward: [Character: UInt8] = [:]
        for (b, c) in zip(printable, codes) {
            let ch = Character(Unicode.Scalar(UInt32(c))!)
            forward[b] = ch
            backward[ch] = UInt8(b)
        }
        return (forward, backward)
    }

    public func encode(_ text: String) throws -> [Int32] {
        var ids: [Int32] = []
        for segment in specials.split(text) {
            switch segment {
            case .special(let id): ids.append(id)
            case .text(let run): for piece in pretokenize(run) { ids += try merge(piece) }
            }
        }
        return ids
    }

    /// BPE over one pre-tokenized piece.
    private func merge(_ piece: String) throws -> [Int32] {
        var parts = piece.utf8.map { String(byteToUnicode[Int($0)]) }
        while parts.count > 1 {
            var best: (rank: Int, index: Int)?
            for i in 0..<(parts.count - 1) {
                if let rank = mergeRanks[parts[i] + " " + parts[i + 1]], rank < (best?.rank ?? Int.max) { best = (rank, i) }
            }
            guard let (_, i) = best else { break }
            parts[i] += parts[i + 1]
            parts.remove(at: i + 1)
        }
        return try parts.map { part in
            guard let id = vocab[part] else { throw WorkerError.invalidArgument("tokenizer: piece '\(part)' of '\(piece)' is not in the vocabulary") }
            return id
        }
    }

    public func bytes(_ ids: [Int32]) -> [UInt8] {
        var bytes: [UInt8] = []
        for id in ids {
            guard let token = idToToken[id] else { continue }
            if specials.ids[token] == id { bytes += Array(token.utf8); continue }
            for ch in token {
                if let b = unicodeToByte[ch] { bytes.append(b) } else { bytes += Array(String(ch).utf8) }
            }
        }
        return bytes
    }

    /// Splits text into the pieces BPE merges within: each regex in turn splits every piece
    /// into its matches and the text between them.
    func pretokenize(_ text: String) -> [String] {
        var pieces = [text]
        for splitter in splitters {
            pieces = pieces.flatMap { piece -> [String] in
                var out: [String] = []
                var cursor = piece.startIndex
                for match in splitter.matches(in: piece, range: NSRange(piece.startIndex..<piece.endIndex, in: piece)) {
                    guard let range = Range(match.range, in: piece), !range.isEmpty else { continue }
                    if cursor < range.lowerBound { out.append(String(piece[cursor..<range.lowerBound])) }
                    out.append(String(piece[range]))
                    cursor = range.upperBound
                }
                if cursor < piece.endIndex { out.append(String(piece[cursor...])) }
                return out
            }
        }
        return pieces
    }
}
