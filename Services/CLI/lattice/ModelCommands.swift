import ArgumentParser
import Foundation
import Tensor
import WorkerCore

/// `lattice model`: create and run Llama-family models in one process.
struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Create, run and benchmark Llama-family models in this process.",
        subcommands: [Init.self, Run.self, Bench.self, Emulate.self])

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a deterministic random-weight Llama model (config.json + safetensors).")
        @Argument(help: "Directory to write the model into.") var directory: String
        @Option(help: "Decoder layers.") var layers = 4
        @Option(help: "Hidden size.") var hidden = 64
        @Option(help: "Attention heads.") var heads = 4
        @Option(help: "Key/value heads (grouped-query attention when fewer than --heads).") var kvHeads = 2
        @Option(help: "MLP intermediate size.") var intermediate = 172
        @Option(help: "Vocabulary size (≥ 256 lets the byte tokenizer encode text).") var vocab = 256
        @Option(help: "Random seed.") var seed: UInt64 = 1
        @Option(help: "Weight dtype: f32, f16 or bf16.") var dtype = "f32"
        @Option(help: "Write this many safetensors shards plus model.safetensors.index.json.") var shards = 1
        @Option(help: "Longest sequence, prompt and generated tokens (max_position_embeddings).") var maxPositions = 2048
        @Flag(help: "Tie the LM head to the embedding.") var tied = false

        func run() throws {
            guard let type = SafeTensorsDType(rawValue: dtype.uppercased()) else { throw ValidationError("--dtype must be f32, f16 or bf16") }
            guard maxPositions >= 1 else { throw ValidationError("--max-positions must be at least 1") }
            let config = LlamaConfig(hiddenSize: hidden, intermediateSize: intermediate, layerCount: layers, headCount: heads,
                                     kvHeadCount: kvHeads, vocabSize: vocab, tieWordEmbeddings: tied, maxPositions: maxPositions)
            try RandomModel.write(config: config, seed: seed, to: directory, dtype: type, shards: shards)
            let parameters = LlamaTensorNames.all(for: config).reduce(0) { $0 + $1.shape.reduce(1, *) }
            print("wrote \(directory): \(layers) layers, hidden \(hidden), \(parameters) parameters (\(dtype))")
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate tokens with the whole model in this process (the reference for the distributed path).")
        @Argument(help: "Model: a directory (config.json + *.safetensors) or a .gguf file.") var directory: String
        @Option(help: "Prompt as comma-separated token ids, e.g. 1,2,3.") var promptIds: String?
        @Option(help: "Prompt as text, encoded with the model's tokenizer.") var prompt: String?
        @Option(help: "A question, put in the model's chat template.") var chat: String?
        @Option(help: "Tokens to generate.") var maxTokens = 16
        @Flag(help: "Pick the most likely token (the default unless --temperature > 0).") var greedy = false
        @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0
        @Option(help: "Nucleus sampling mass.") var topP: Float = 1
        @Option(help: "Sampling seed.") var seed: UInt64 = 0
        @Option(help: "Split the model into this many in-process stages.") var stages = 1
        @Option(help: "Prompt tokens per prefill chunk.") var prefillChunk = 256
        @Option(help: "Compute threads (BLAS and quantized kernels).") var threads = 1
        @Flag(help: "Run a GGUF's quantized weights converted to Float32 (the reference path).") var dequantize = false
        @Flag(help: "Print JSON (tokens, text, logits of the last token, timing).") var json = false

        func run() throws {
            BLASThreads.reexecWithFastKernelsIfNeeded()
            ComputeThreads.set(threads)
            let model = try LocalModel(path: directory, dequantize: dequantize)
            let ids: [Int32]
            if let promptIds { ids = try model.parsePromptIDs(promptIds) }
            else if let prompt { ids = try model.tokenizer.encodePrompt(prompt) }
            else if let chat { ids = try model.chatPromptIDs(chat) }
            else { throw ValidationError("give --prompt-ids, --prompt or --chat") }
            guard maxTokens >= 1, ids.count + maxTokens <= model.config.maxPositions else {
                throw ValidationError("prompt (\(ids.count)) + --max-tokens (\(maxTokens)) must be between 1 and the model's max_position_embeddings (\(model.config.maxPositions))")
            }
            let sampling = SamplingParameters(temperature: greedy ? 0 : temperature, topP: topP, seed: seed)
            let engine = try model.makeEngine(stages: stages, kvTokens: ids.count + maxTokens, prefillChunk: prefillChunk, keepsLogits: json)
            // A chat answer ends at the model's end-of-sequence token.
            let stops: Set<Int32> = chat != nil ? Set([model.endOfSequence].compactMap { $0 }) : []
            try engine.submit(GenerationRequest(id: 1, prompt: ids, maxNewTokens: maxTokens, sampling: sampling, stopTokens: stops))
            let started = Date()
            let results = try engine.runToCompletion()
            let seconds = Date().timeIntervalSince(started)
            guard let result = results[1] else { throw WorkerError.invalidArgument("the engine returned no result") }
            if case .rejected(let why) = result.finish { throw WorkerError.invalidArgument(why) }
            let text = model.tokenizer.decode(result.tokens)
            if json {
                let object: [String: Any] = [
                    "prompt_ids": ids.map(Int.init), "tokens": result.tokens.map(Int.init), "text": text,
                    "last_logits": result.logits.last.map { $0.map(Double.init) } ?? [], "seconds": seconds, "stages": stages,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(result.tokens.map(String.init).joined(separator: ","))
                print("text: \(text.debugDescription)")
                print(String(format: "%d tokens in %.3f s", result.tokens.count, seconds))
            }
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prefill and decode tokens/s at several batch sizes, plus the memory-bandwidth floor.")
        @Argument(help: "Model directory.") var directory: String
        @Option(help: "Batch sizes, comma-separated.") var batches = "1,8,32"
        @Option(help: "Prompt tokens per request.") var promptTokens = 128
        @Option(help: "Decode steps measured per batch size.") var decodeTokens = 32
        @Option(help: "BLAS threads.") var threads = 1
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            BLASThreads.reexecWithFastKernelsIfNeeded()
            ComputeThreads.set(threads)
            let sizes = batches.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--batches must be positive integers, e.g. 1,8,32") }
            let report = try ThroughputBenchmark.run(path: directory, batchSizes: sizes, promptTokens: promptTokens, decodeSteps: decodeTokens)
            if json {
                let data = try JSONSerialization.data(withJSONObject: report.jsonObject(threads: threads), options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(report.text)
            }
        }
    }

    struct Emulate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Batch times and payload sizes of an emulated GPU worker, from the Helix profiles.")
        @Option(help: "GPU type: A100, L4, L4x2, T4, T4x2, T4x4, V100.") var gpu: String
        @Option(help: "Model: llama2-70b or llama1-30b.") var model = "llama2-70b"
        @Option(help: "Layers held, START:END.") var layers = "0:1"
        @Option(help: "Profiles directory (default: $LATTICE_PROFILES or shared/data/helix/profiles above the current directory).") var profiles: String?
        @Option(help: "Batch sizes in tokens, comma-separated.") var tokens = "1,8,32,256,1024"

        func run() throws {
            guard let directory = profiles ?? GPUProfile.defaultProfilesDirectory() else {
                throw ValidationError("no profiles directory found; pass --profiles DIR")
            }
            let emulated = try EmulatedModel.named(model)
            let profile = try GPUProfile.load(profilesDirectory: directory, model: emulated, gpu: gpu)
            let range = try parseLayerRange(layers)
            let stage = try EmulatedStage(profile: profile, layers: range, sleep: { _ in })
            let sizes = tokens.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            print("\(profile.gpu) holding \(emulated.name) layers [\(range.lowerBound), \(range.upperBound)): KV capacity \(stage.stats.kvCapacityEntries) token×layer entries")
            print("tokens  prefill ms  decode ms  payload bytes")
            for n in sizes {
                let prefill = profile.batchSeconds(layers: range.count, promptTokens: n, decodeTokens: 0) * 1000
                let decode = profile.batchSeconds(layers: range.count, promptTokens: 0, decodeTokens: n) * 1000
                print(String(format: "%6d  %10.2f  %9.2f  %13d", n, prefill, decode, n * emulated.activationBytes))
            }
        }
    }
}
