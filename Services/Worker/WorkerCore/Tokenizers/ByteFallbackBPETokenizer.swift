import Foundation

/// SentencePiece-style BPE from a Hugging Face `tokenizer.json` with `byte_fallback` (Llama 2,
/// Mistral): spaces are `▁`, each text segment between added tokens is normalized (a `▁` prepended,
/// spaces replaced) and merged by rank over its characters; a character with no token becomes its
/// UTF-8 bytes as `<0xNN>` tokens. The post-processor's leading special token (`<s>`) is the BOS.
public struct ByteFallbackBPETokenizer: Tokenizer {
    private let vocab: [String: Int32]
    private let pieces: [Int32: String]
    private let mergeRanks: [String: Int]      // "left right" -> rank
    private let specials: SpecialTokens
    private let byteTokens: [Int32]            // byte value -> id
    private let byteValues: [Int32: UInt8]
    private let prepend: String
    private let replacements: [(String, String)]
    public let beginOfSequence: Int32?

    /// Reads `tokenizer.json`; anything beyond the Llama form (a `Prepend`/`Replace` normalizer, no
    /// pre-tokenizer) is refused with the part that is not supported.
    public init(json root: [String: Any], source: String) throws {
        guard let model = root["model"] as? [String: Any], let vocabObject = model["vocab"] as? [String: NSNumber] else {
            throw WorkerError.badModel("\(source): not a tokenizer.json object with a BPE 'model.vocab'")
        }
        if let pre = root["pre_tokenizer"] as? [String: Any] {
            throw WorkerError.badModel("\(source): byte_fallback BPE with pre_tokenizer '\(pre["type"] ?? "?")' is not supported (only none, with a Prepend/Replace normalizer, as Llama 2 and Mistral ship)")
        }
        var vocab = vocabObject.mapValues { Int32($0.intValue) }
        var specials: [String: Int32] = [:]
        for case let added as [String: Any] in (root["added_tokens"] as? [Any]) ?? [] {
            if let id = (added["id"] as? NSNumber)?.int32Value, let content = added["content"] as? String {
                vocab[content] = id
                specials[content] = id
            }
        }
        var ranks: [String: Int] = [:]
        for (rank, merge) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            let key = (merge as? String) ?? ((merge as? [String]).map { $0.joined(separator: " ") } ?? "")
            if ranks[key] == nil { ranks[key] = rank }
        }
        var bytes = [Int32](repeating: -1, count: 256), values: [Int32: UInt8] = [:]
        for (piece, id) in vocab {
            guard piece.count == 6, piece.hasPrefix("<0x"), piece.hasSuffix(">"),
                  let value = UInt8(piece.dropFirst(3).prefix(2), radix: 16) else { continue }
            bytes[Int(value)] = id
            values[id] = value
        }
        guard !bytes.contains(-1) else {
            throw WorkerError.badModel("\(source): byte_fallback needs the 256 tokens <0x00> … <0xFF>; \(bytes.filter { $0 == -1 }.count) are missing")
        }
        (prepend, replacements) = try Self.normalizer(root["normalizer"], source: source)
        self.vocab = vocab
        pieces = Dictionary(vocab.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        mergeRanks = ranks
        self.specials = SpecialTokens(specials)
        byteTokens = bytes
        byteValues = values
        beginOfSequence = Self.leadingSpecial(root["post_processor"], vocab: vocab)
    }

    /// The prepended text and the replacements of a `Prepend`/`Replace` normalizer (alone or in a `Sequence`).
    private static func normalizer(_ node: Any?, source: String) throws -> (String, [(String, String)]) {
        guard let object = node as? [String: Any] else { return ("", []) }
        switch object["type"] as? String {
        case "Prepend": return ((object["prepend"] as? String) ?? "", [])
        case "Replace":
            guard let pattern = (object["pattern"] as? [String: Any])?["String"] as? String, let content = object["content"] as? String else {
                throw WorkerError.badModel("\(source): normalizer Replace with a regex pattern is not supported (only a plain string)")
            }
            return ("", [(pattern, content)])
        case "Sequence":
            var prepend = "", replacements: [(String, String)] = []
            for part in (object["normalizers"] as? [Any]) ?? [] {
                let (p, r) = try normalizer(part, source: source)
                prepend += p
                replacements += r
            }
            return (prepend, replacements)
        default:
            throw WorkerError.badModel("\(source): normalizer '\(object["type"] ?? "?")' is not supported for byte_fallback BPE (Prepend, Replace, Sequence)")
        }
    }

    /// The id of the special token a `TemplateProcessing` post-processor puts first in a single text.
    private static func leadingSpecial(_ node: Any?, vocab: [String: Int32]) -> Int32? {
        guard let object = node as? [String: Any], (object["type"] as? String) == "TemplateProcessing",
              let first = (object["single"] as? [Any])?.first as? [String: Any],
              let token = (first["SpecialToken"] as? [String: Any])?["id"] as? String else { return nil }
        return vocab[token]
    }

    public func encode(_ text: String) throws -> [Int32] {
        var ids: [Int32] = []
        for segment in specials.split(text) {
            switch segment {
            case .special(let id): ids.append(id)
            case .text(let run): ids += merge(normalize(run))
            }
        }
        return ids
    }

    private func normalize(_ text: String) -> String {
        var out = text.isEmpty ? text : prepend + text
        for (pattern, content) in replacements { out = out.replacingOccurrences(of: pattern, with: content) }
        return out
    }

    /// BPE over the characters of one normalized segment, lowest rank (then leftmost) first.
    private func merge(_ text: String) -> [Int32] {
        var parts = text.map { String($0) }
        while parts.count > 1 {
            var best: (rank: Int, index: Int)?
            for i in 0..<(parts.count - 1) {
                if let rank = mergeRanks[parts[i] + " " + parts[i + 1]], rank < (best?.rank ?? Int.max) { best = (rank, i) }
            }
            guard let best else { break }
            parts[best.index] += parts[best.index + 1]
            parts.remove(at: best.index + 1)
        }
        return parts.flatMap { part in vocab[part].map { [$0] } ?? part.utf8.map { byteTokens[Int($0)] } }
    }

    /// `▁` back to spaces, byte tokens to their bytes; the space the normalizer prepended to the
    /// text (at its start and after each added token) is dropped.
    public func bytes(_ ids: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        var segmentStart = true
        for id in ids {
            if let value = byteValues[id] {
                out.append(value)
                segmentStart = false
                continue
            }
            guard var piece = pieces[id] else { continue }
            if specials.contains(id: id) {
                out += Array(piece.utf8)
                segmentStart = true
                continue
            }
            for (pattern, content) in replacements { piece = piece.replacingOccurrences(of: content, with: pattern) }
            var text = Array(piece.utf8)
            if segmentStart, !prepend.isEmpty, text.first == UInt8(ascii: " ") { text.removeFirst() }
            out += text
            segmentStart = false
        }
        return out
    }
}
