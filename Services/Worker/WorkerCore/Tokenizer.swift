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

/// Byte-level BPE (GPT-2, Llama 3 style) read from a Hugging Face `tokenizer.json`.
///
/// Pre-tokenization uses the `Split` regex the file names (Llama 3 and most recent models);
/// a plain `ByteLevel` pre-tokenizer gets GPT-2's pattern.
public struct ByteLevelBPETokenizer: Tokenizer {
    /// GPT-2's split pattern (the ByteLevel pre-tokenizer's default).
    public static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    private let splitter: NSRegularExpression
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
        let pattern = Self.splitPattern(root["pre_tokenizer"]) ?? Self.gpt2Pattern
        do { splitter = try NSRegularExpression(pattern: pattern) } catch {
            throw WorkerError.badModel("\(source): pre-tokenizer regex does not compile: \(pattern)")
        }
        self.vocab = vocab
        idToToken = Dictionary(vocab.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        mergeRanks = ranks
        (byteToUnicode, unicodeToByte) = Self.byteMapping()
    }

    /// The regex of the first `Split` pre-tokenizer (alone or inside a `Sequence`).
    static func splitPattern(_ node: Any?) -> String? {
        guard let object = node as? [String: Any] else { return nil }
        if (object["type"] as? String) == "Split", let pattern = object["pattern"] as? [String: Any], let regex = pattern["Regex"] as? String {
            return regex
        }
        for child in (object["pretokenizers"] as? [Any]) ?? [] {
            if let found = splitPattern(child) { return found }
        }
        return nil
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
        for piece in pretokenize(text) {
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

    /// Splits text into the pieces BPE merges within.
    func pretokenize(_ text: String) -> [String] {
        let whole = NSRange(text.startIndex..<text.endIndex, in: text)
        return splitter.matches(in: text, range: whole).compactMap { match in
            Range(match.range, in: text).map { String(text[$0]) }
        }
    }
}
