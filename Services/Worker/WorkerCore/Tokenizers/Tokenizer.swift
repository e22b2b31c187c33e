import Foundation

/// Text ⇄ token ids.
public protocol Tokenizer: Sendable {
    func encode(_ text: String) throws -> [Int32]
    /// The exact bytes `ids` stand for (unknown ids contribute nothing).
    func bytes(_ ids: [Int32]) -> [UInt8]
    /// The token a prompt starts with when the model asks for one (llama.cpp's `add_bos`: SentencePiece
    /// models, Llama 3 BPE); `encode` never adds it, `encodePrompt` does.
    var beginOfSequence: Int32? { get }
}

extension Tokenizer {
    public var beginOfSequence: Int32? { nil }

    /// `text` as a model's prompt: `beginOfSequence` (if any), then the text's tokens. Every path
    /// that tokenizes a prompt (scheduler, `lattice model run`, chat) goes through here. A text that
    /// already starts with the BOS token's text (a chat template writing `<s>`) keeps its one BOS,
    /// as llama.cpp's chat path does by stripping it from the template's output.
    public func encodePrompt(_ text: String) throws -> [Int32] {
        let ids = try encode(text)
        guard let bos = beginOfSequence, ids.first != bos else { return ids }
        return [bos] + ids
    }

    /// The text of `ids`; bytes that are not valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int32]) -> String { String(decoding: bytes(ids), as: UTF8.self) }

    /// The text the last of `generated` adds to a stream of them (what a `StreamingDetokenizer`
    /// fed `generated` one by one returns for the last): bytes of an unfinished character wait.
    public func streamText(_ generated: [Int32]) -> String {
        guard !generated.isEmpty else { return "" }
        let before = bytes(Array(generated.dropLast()))
        let emitted = StreamingDetokenizer.completePrefixLength(before)
        let all = bytes(generated)
        return String(decoding: all[emitted..<StreamingDetokenizer.completePrefixLength(all)], as: UTF8.self)
    }
}

/// Finds the tokenizer a model ships: GGUF metadata, else `tokenizer.json`, else bytes.
public enum Tokenizers {
    public static func load(source: any WeightSource) throws -> any Tokenizer {
        if let gguf = source as? GGUFModel {
            guard gguf.file.metadata["tokenizer.ggml.model"] != nil else { return ByteTokenizer(vocabSize: gguf.config.vocabSize) }
            return try load(gguf: gguf.file)
        }
        return try load(directory: source.path, vocabSize: source.config.vocabSize)
    }

    /// The tokenizer in a GGUF file's metadata (a model, or a vocabulary-only file).
    public static func load(gguf file: GGUFFile) throws -> any Tokenizer { try GGUFTokenizer.load(file) }

    public static func load(directory: String, vocabSize: Int) throws -> any Tokenizer {
        let path = (directory as NSString).appendingPathComponent("tokenizer.json")
        if let data = FileManager.default.contents(atPath: path) { return try load(json: data, source: path) }
        return ByteTokenizer(vocabSize: vocabSize)
    }

    /// A `tokenizer.json`: byte-level BPE, or SentencePiece-style BPE when its model has `byte_fallback`.
    public static func load(json data: Data, source: String = "tokenizer.json") throws -> any Tokenizer {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any] else {
            throw WorkerError.badModel("\(source): not a tokenizer.json object with a 'model'")
        }
        if (model["type"] as? String) == "BPE", (model["byte_fallback"] as? Bool) == true {
            return try ByteFallbackBPETokenizer(json: root, source: source)
        }
        return try ByteLevelBPETokenizer(json: data, source: source)
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

    public func bytes(_ ids: [Int32]) -> [UInt8] { ids.compactMap { (0..<256).contains($0) ? UInt8($0) : nil } }
}

/// Turns a stream of token ids into text without splitting a character: bytes of a UTF-8
/// sequence that a token leaves unfinished wait for the tokens that finish it.
public struct StreamingDetokenizer {
    private let tokenizer: any Tokenizer
    private var pending: [UInt8] = []
    private var previous: Int32?

    public init(tokenizer: any Tokenizer) { self.tokenizer = tokenizer }

    /// The text that `id` completes (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        // A token's text can depend on the one before it (SentencePiece drops the space it
        // prefixed at the start of a text), so decode it after its predecessor.
        let context = previous.map { [$0] } ?? []
        pending += tokenizer.bytes(context + [id]).dropFirst(tokenizer.bytes(context).count)
        previous = id
        let complete = Self.completePrefixLength(pending)
        defer { pending.removeFirst(complete) }
        return String(decoding: pending[..<complete], as: UTF8.self)
    }

    /// Whatever is left at the end of the stream (an unfinished sequence becomes U+FFFD).
    public mutating func finish() -> String {
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of `bytes` without a trailing, still unfinished UTF-8 sequence.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        var start = bytes.count - 1
        while start >= 0, start >= bytes.count - 4, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0 else { return bytes.count }
        let lead = bytes[start]
        let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return bytes.count - start < needed ? start : bytes.count
    }
}
