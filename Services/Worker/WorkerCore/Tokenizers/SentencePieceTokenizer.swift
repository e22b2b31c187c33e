/// SentencePiece as Llama-family GGUF files ship it (`tokenizer.ggml.model = "llama"`): pieces with
/// scores, where spaces are written `▁`, and 256 byte tokens `<0xNN>` for whatever has no piece.
///
/// Encoding cuts out special tokens whole, prefixes each run of text after the start or a special
/// token with a space (`add_space_prefix`), writes spaces as `▁`, starts from one symbol per
/// Unicode scalar and repeatedly merges the adjacent pair whose joined text is the best-scoring
/// piece (the leftmost on a tie); symbols left without a piece become their bytes' tokens.
/// Decoding undoes it exactly, dropping the space that encoding prefixed.
public struct SentencePieceTokenizer: Tokenizer {
    /// llama.cpp's token types (`tokenizer.ggml.token_type`).
    public enum TokenType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    private let pieces: [[UInt8]]          // id -> piece bytes (with ▁ for spaces)
    private let scores: [Float]
    private let types: [TokenType]
    private let ids: [[UInt8]: Int32]      // piece bytes -> id (the last id of a repeated piece)
    private let byteTokens: [Int32?]       // byte -> its <0xNN> token
    private let unknown: Int32?
    private let specials: SpecialTokens
    private let addsSpacePrefix: Bool
    public let beginOfSequence: Int32?

    private static let space = Array("▁".utf8)

    /// - Parameters:
    ///   - types: one per piece; control, user-defined and unknown pieces are matched whole in text.
    ///   - beginOfSequence: the token `encodePrompt` starts with (nil: none).
    public init(pieces: [String], scores: [Float], types: [TokenType], beginOfSequence: Int32?, addsSpacePrefix: Bool,
                source: String) throws {
        guard scores.count == pieces.count, types.count == pieces.count else {
            throw WorkerError.badModel("\(source): \(pieces.count) pieces but \(scores.count) scores and \(types.count) token types")
        }
        if let bos = beginOfSequence, !pieces.indices.contains(Int(bos)) {
            throw WorkerError.badModel("\(source): the BOS token \(bos) is not among the \(pieces.count) pieces")
        }
        self.pieces = pieces.map { Array($0.utf8) }
        self.scores = scores
        self.types = types
        var ids: [[UInt8]: Int32] = [:], specials: [String: Int32] = [:]
        var byteTokens = [Int32?](repeating: nil, count: 256)
        for (id, piece) in pieces.enumerated() {
            ids[Array(piece.utf8)] = Int32(id)
            switch types[id] {
            case .control, .userDefined, .unknown: specials[piece] = Int32(id)
            case .byte:
                guard let value = Self.byteValue(piece) else {
                    throw WorkerError.badModel("\(source): byte token \(id) is '\(piece)', not of the form <0xNN>")
                }
                byteTokens[Int(value)] = Int32(id)
            case .normal, .unused: break
            }
        }
        self.ids = ids
        self.byteTokens = byteTokens
        unknown = types.firstIndex(of: .unknown).map(Int32.init)
        self.specials = SpecialTokens(specials)
        self.addsSpacePrefix = addsSpacePrefix
        self.beginOfSequence = beginOfSequence
    }

    /// The byte of a `<0xNN>` piece.
    private static func byteValue(_ piece: String) -> UInt8? {
        guard piece.count == 6, piece.hasPrefix("<0x"), piece.hasSuffix(">") else { return nil }
        return UInt8(piece.dropFirst(3).prefix(2), radix: 16)
    }

    public func encode(_ text: String) throws -> [Int32] {
        var output: [Int32] = []
        var afterSpecial = true   // the start of the text counts as one
        for segment in specials.split(text) {
            switch segment {
            case .special(let id):
                output.append(id)
                afterSpecial = true
            case .text(let run):
                try encodeRun((addsSpacePrefix && afterSpecial ? " " : "") + run, into: &output)
                afterSpecial = false
            }
        }
        return output
    }

    /// Merges one run of text (no special tokens in it) by piece score.
    private func encodeRun(_ run: String, into output: inout [Int32]) throws {
        var bytes: [UInt8] = []
        var starts: [Int] = [], lengths: [Int] = []
        for scalar in run.unicodeScalars {
            starts.append(bytes.count)
            if scalar == " " { bytes += Self.space } else { bytes += Array(String(scalar).utf8) }
            lengths.append(bytes.count - starts.last!)
        }
        let count = starts.count
        guard count > 0 else { return }
        var next = Array(1...count), previous = Array(-1..<(count - 1))
        next[count - 1] = -1
        // pairScore[i]: the score of the piece symbol i and its successor would form (nil: none).
        func score(_ i: Int) -> Float? {
            guard i >= 0, next[i] >= 0 else { return nil }
            return ids[Array(bytes[starts[i]..<(starts[i] + lengths[i] + lengths[next[i]])])].map { scores[Int($0)] }
        }
        var pairScore = (0..<count).map(score)
        while true {
            var best = -1
            var i = 0
            while i >= 0 {
                if let s = pairScore[i], best < 0 || s > pairScore[best]! { best = i }
                i = next[i]
            }
            guard best >= 0 else { break }
            let absorbed = next[best]
            lengths[best] += lengths[absorbed]
            next[best] = next[absorbed]
            if next[best] >= 0 { previous[next[best]] = best }
            pairScore[absorbed] = nil
            pairScore[best] = score(best)
            if previous[best] >= 0 { pairScore[previous[best]] = score(previous[best]) }
        }
        var i = 0
        while i >= 0 {
            let symbol = Array(bytes[starts[i]..<(starts[i] + lengths[i])])
            if let id = ids[symbol] {
                output.append(id)
            } else {
                for byte in symbol {
                    guard let id = byteTokens[Int(byte)] ?? unknown else {
                        throw WorkerError.invalidArgument("tokenizer: byte 0x\(String(byte, radix: 16)) of '\(String(decoding: symbol, as: UTF8.self))' has no token and the vocabulary has no <unk>")
                    }
                    output.append(id)
                }
            }
            i = next[i]
        }
    }

    public func bytes(_ ids: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        var afterSpecial = true
        for id in ids {
            guard pieces.indices.contains(Int(id)) else { continue }
            let piece = pieces[Int(id)]
            switch types[Int(id)] {
            case .byte:
                if let value = Self.byteValue(String(decoding: piece, as: UTF8.self)) { out.append(value) }
                afterSpecial = false
            case .control, .userDefined, .unknown:
                out += piece
                afterSpecial = true
            case .normal, .unused:
                var text = Self.unescapingSpaces(piece)
                // The space encoding put before a run of text is not part of the text.
                if addsSpacePrefix, afterSpecial, text.first == 0x20 { text.removeFirst() }
                out += text
                afterSpecial = false
            }
        }
        return out
    }

    /// `▁` back to spaces.
    private static func unescapingSpaces(_ piece: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < piece.count {
            if i + 3 <= piece.count, piece[i] == space[0], piece[i + 1] == space[1], piece[i + 2] == space[2] {
                out.append(0x20)
                i += 3
            } else {
                out.append(piece[i])
                i += 1
            }
        }
        return out
    }
}
