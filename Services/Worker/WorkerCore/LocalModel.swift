import Foundation
import Tensor

/// A model (directory or GGUF file) opened for running in this process (the `lattice model`
/// commands, tests and the benchmark): stages, engine and tokenizer wired together.
public final class LocalModel {
    public let directory: any WeightSource
    public let tokenizer: any Tokenizer

    /// - Parameter dequantize: run a GGUF's quantized weights in Float32 (the reference path).
    public init(path: String, dequantize: Bool = false) throws {
        directory = try WeightSources.open(path, dequantize: dequantize)
        tokenizer = try Tokenizers.load(source: directory)
    }

    public var config: LlamaConfig { directory.config }

    /// The end-of-sequence token, from GGUF metadata or config.json.
    public var endOfSequence: Int32? {
        if let gguf = directory as? GGUFModel { return gguf.file.metadata["tokenizer.ggml.eos_token_id"]?.int.map(Int32.init) }
        let path = (directory.path as NSString).appendingPathComponent("config.json")
        let object = FileManager.default.contents(atPath: path).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        return (object?["eos_token_id"] as? NSNumber).map { Int32($0.intValue) }
    }

    /// `question` in the model's chat template, tokenized.
    public func chatPromptIDs(_ question: String) throws -> [Int32] {
        try tokenizer.encodePrompt(ChatTemplate.load(source: directory).prompt(user: question))
    }

    /// A batching engine over the model split evenly into `stages` in-process stages.
    /// - Parameter kvTokens: KV room per stage, in tokens (rounded up to whole blocks).
    public func makeEngine(stages: Int = 1, kvTokens: Int = 4096, blockSize: Int = 16, prefillChunk: Int = 256,
                           maxBatchTokens: Int = 512, keepsLogits: Bool = false,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> BatchingEngine {
        guard kvTokens >= 1, blockSize >= 1 else { throw WorkerError.invalidArgument("--kv-tokens and --block-size must be positive") }
        let ranges = try InProcessPipeline.evenSplit(layers: config.layerCount, count: stages)
        let blocks = (kvTokens + blockSize - 1) / blockSize
        var runners: [LayerRangeRunner] = []
        for range in ranges {
            runners.append(try LayerRangeRunner(directory: directory, layers: range, kvBlocks: blocks, blockSize: blockSize,
                                                progress: progress))
        }
        return try BatchingEngine(pipeline: InProcessPipeline(stages: runners), maxBatchTokens: maxBatchTokens,
                                  prefillChunk: prefillChunk, keepsLogits: keepsLogits)
    }

    /// Parses "1,2,3" into token ids checked against the vocabulary.
    public func parsePromptIDs(_ text: String) throws -> [Int32] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var ids: [Int32] = []
        for (i, part) in parts.enumerated() {
            guard let id = Int32(part), id >= 0, Int(id) < config.vocabSize else {
                throw WorkerError.invalidArgument("--prompt-ids: item \(i + 1) ('\(part)') is not a token id in [0, \(config.vocabSize))")
            }
            ids.append(id)
        }
        return ids
    }
}
