import Foundation

/// Text ⇄ token ids.
public protocol Tokenizer: Sendable {
    func encode(_ text: String) throws -> [Int32]
    func decode(_ ids: [Int32]) -> String
}

/// Loads the model directory's `tokenizer.json` (byte-level BPE) or falls back to bytes.
public enum Tokenizers {
    public static func load(directory: String, vocabSize: Int) throws -> any Tokenizer {
        let path = (directory as NSString).appendingPathComponent("tokenizer.json")
        if let data = FileManager.default.contents(atPath: path) { return try ByteLevelBPETokenizer(json: data, source: path) }
        return ByteTokenizer(vocabSize: vocabSize)
    }
}

/// One token per UTF-8 byte (ids 0–255); used when a model ships no tokenizer.
public struct ByteTokenizer: Tokenizer {
    public let vocabSize: Int
    public init(vocabSize: Int) { self.vocabSize = vocabSize }

    public func encode(_ text: String) throws -> [Int32] {
        guard vocabSize >= 256 else {
            throw WorkerError.invalidArgument("the byte tokenizer needs a vocabulary of at least 256 (this model has \(vocabSize)); pass --prompt-ids instead")
        }
        return text.utf8.map { Int32($0) }
    }

    public func decode(_ ids: [Int32]) -> String {
        String(decoding: ids.compactMap { (0..<256).contains($0) ? UInt8($0) : nil }, as: UTF8.self)
    }
}

/// GPT-2 style byte-level BPE read from a Hugging Face `tokenizer.json`.
///
/// Pre-tokenization follows the GPT-2 pattern (contractions, letters, digits, punctuation,
/// whitespace) by hand rather than by regex; models with another split pattern (Llama 3)
/// encode validly but not always into the same pieces as the reference tokenizer.
public struct ByteLevelBPETokenizer: Tokenizer {
    private let vocab: [String: Int32]
    private let idToToken: [Int32: String]
    private let mergeRanks: [String: Int]      // "left right" -> rank
    private let byteToUnicode: [Character]
    private let unicodeToByte: [Character: UInt8]

    public init(json data: Data, source: String = "tokenizer.json") throws {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any] else {
            throw WorkerError.badModel("\(source): not a tokenizer.json object with a 'model'")
        }
        guard (model["type"] as? String) == "BPE", let vocabObject = model["vocab"] as? [String: NSNumber] else {
            throw WorkerError.badModel("\(source): only BPE tokenizers are supported (model.type \(model["type"] ?? "missing"))")
        }
        if (model["byte_fallback"] as? Bool) == true {
            throw WorkerError.badModel("\(source): SentencePiece-style BPE (byte_fallback) is not supported; only byte-level BPE")
        }
        var vocab = vocabObject.mapValues { Int32($0.intValue) }
        for case let added as [String: Any] in (root["added_tokens"] as? [Any]) ?? [] {
            if let id = (added["id"] as? NSNumber)?.int32Value, let content = added["content"] as? String { vocab[content] = id }
        }
        var ranks: [String: Int] = [:]
        for (rank, merge) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let text = merge as? String { ranks[text] = rank }
            else if let pair = merge as? [String], pair.count == 2 { ranks[pair[0] + " " + pair[1]] = rank }
        }
        self.vocab = vocab
        idToToken = Dictionary(vocab.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        mergeRanks = ranks
        (byteToUnicode, unicodeToByte) = Self.byteMapping()
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
        for piece in Self.pretokenize(text) {
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
            for part in parts {
                guard let id = vocab[part] else { throw WorkerError.invalidArgument("tokenizer: piece '\(part)' of '\(piece)' is not in the vocabulary") }
                ids.append(id)
            }
        }
        return ids
    }

    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            guard let token = idToToken[id] else { continue }
            for ch in token {
                if let b = unicodeToByte[ch] { bytes.append(b) } else { bytes += Array(String(ch).utf8) }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// GPT-2 pre-tokenization: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    static func pretokenize(_ text: String) -> [String] {
        enum Kind { case letter, number, other, space }
        func kind(_ c: Character) -> Kind {
            if c.isWhitespace { return .space }
            if c.isLetter { return .letter }
            if c.isNumber { return .number }
            return .other
        }
        let chars = Array(text)
        var pieces: [String] = []
        var i = 0
        while i < chars.count {
            if chars[i] == "'" {
                let rest = String(chars[(i + 1)..<min(i + 3, chars.count)]).lowercased()
                if let suffix = ["re", "ve", "ll"].first(where: { rest.hasPrefix($0) }) ?? ["s", "t", "m", "d"].first(where: { rest.hasPrefix($0) }) {
                    pieces.append(String(chars[i..<(i + 1 + suffix.count)]))
                    i += 1 + suffix.count
                    continue
                }
            }
            let start = i
            if chars[i] == " ", i + 1 < chars.count, kind(chars[i + 1]) != .space { i += 1 }
            let k = kind(chars[i])
            if k == .space {
                // Whitespace run; leave the last space to prefix the next word.
                var end = i
                while end < chars.count, kind(chars[end]) == .space { end += 1 }
                if end < chars.count, end - i > 1, chars[end - 1] == " " { end -= 1 }
                pieces.append(String(chars[i..<end]))
                i = end
                continue
            }
            while i < chars.count, kind(chars[i]) == k { i += 1 }
            pieces.append(String(chars[start..<i]))
        }
        return pieces
    }
}
