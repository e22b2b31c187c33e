import Foundation
import SchedulerCore
import Wire
import WorkerCore

/// The served model as the scheduler knows it: shape (for plans and validation), config text
/// (for placement) and tokenizer (for text prompts). Read with WorkerCore's model readers.
struct ModelSource {
    var info: ModelInfo
    var configJSON: String
    var codec: TextCodec?

    /// `--model DIR` (a Hugging Face directory), `--model FILE.gguf` or an emulated model name.
    static func load(_ text: String?) throws -> ModelSource {
        guard let text else { return ModelSource(info: ModelInfo(), configJSON: "", codec: nil) }
        if WeightSources.isGGUF(text) {
            let path = URL(fileURLWithPath: text).standardizedFileURL.path
            let gguf = try GGUFModel(path: path)
            let config = gguf.config, meta = gguf.file.metadata
            let json = try JSONSerialization.data(withJSONObject: config.jsonObject(), options: [.sortedKeys])
            let info = ModelInfo(name: (path as NSString).lastPathComponent, modelDir: path, numLayers: UInt32(config.layerCount),
                                 hiddenSize: UInt32(config.hiddenSize), vocabSize: UInt32(config.vocabSize), numHeads: UInt32(config.headCount),
                                 numKVHeads: UInt32(config.kvHeadCount),
                                 bosTokenID: UInt32(meta["tokenizer.ggml.bos_token_id"]?.int ?? 0),
                                 eosTokenID: UInt32(meta["tokenizer.ggml.eos_token_id"]?.int ?? 0))
            return ModelSource(info: info, configJSON: String(decoding: json, as: UTF8.self),
                               codec: TokenizerCodec(tokenizer: try Tokenizers.load(source: gguf), chat: ChatTemplateSource(source: gguf)))
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory), isDirectory.boolValue {
            let path = URL(fileURLWithPath: text).standardizedFileURL.path
            let directory = try ModelDirectory(path: path)
            let config = directory.config
            let configPath = (path as NSString).appendingPathComponent("config.json")
            let json = (try? String(contentsOfFile: configPath, encoding: .utf8)) ?? ""
            let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
            let bos = (object?["bos_token_id"] as? NSNumber)?.uint32Value ?? 0
            let eos = (object?["eos_token_id"] as? NSNumber)?.uint32Value ?? 0
            let info = ModelInfo(name: (path as NSString).lastPathComponent, modelDir: path, numLayers: UInt32(config.layerCount),
                                 hiddenSize: UInt32(config.hiddenSize), vocabSize: UInt32(config.vocabSize), numHeads: UInt32(config.headCount),
                                 numKVHeads: UInt32(config.kvHeadCount), bosTokenID: bos, eosTokenID: eos)
            let tokenizer = try Tokenizers.load(directory: path, vocabSize: config.vocabSize)
            return ModelSource(info: info, configJSON: json, codec: TokenizerCodec(tokenizer: tokenizer, chat: ChatTemplateSource(source: directory)))
        }
        let emulated = try EmulatedModel.named(text)
        return ModelSource(info: ModelInfo(name: emulated.name, numLayers: UInt32(emulated.layerCount), hiddenSize: UInt32(emulated.hiddenSize),
                                           vocabSize: UInt32(emulated.vocabSize), bosTokenID: 1, eosTokenID: 2),
                           configJSON: "", codec: nil)
    }
}

/// The model's chat template, or why it has none usable (said when a chat request comes).
struct ChatTemplateSource: Sendable {
    var template: ChatTemplate?
    var problem = ""

    init(source: any WeightSource) {
        do { template = try ChatTemplate.load(source: source) } catch { problem = "\(error)" }
    }
}

struct TokenizerCodec: TextCodec {
    let tokenizer: any Tokenizer
    let chat: ChatTemplateSource
    func chatPrompt(user: String) throws -> String {
        guard let template = chat.template else { throw WorkerError.badModel(chat.problem) }
        return template.prompt(user: user)
    }
    func encode(_ text: String) throws -> [UInt32] { try tokenizer.encodePrompt(text).map { UInt32(bitPattern: $0) } }
    func decode(_ ids: [UInt32]) -> String { tokenizer.decode(ids.map { Int32(bitPattern: $0) }) }
    func streamText(_ generated: [UInt32]) -> String {
        tokenizer.streamText(generated.map { Int32(bitPattern: $0) })
    }
}
