import Foundation

/// What a worker tells others about the model it serves (the wire's ModelInfo, field for field).
public struct ModelSummary: Equatable, Sendable {
    public var name: String
    public var modelDir: String
    public var layerCount: Int
    public var hiddenSize: Int
    public var vocabSize: Int
    public var headCount: Int
    public var kvHeadCount: Int

    public init(name: String = "", modelDir: String = "", layerCount: Int = 0, hiddenSize: Int = 0, vocabSize: Int = 0,
                headCount: Int = 0, kvHeadCount: Int = 0) {
        self.name = name
        self.modelDir = modelDir
        self.layerCount = layerCount
        self.hiddenSize = hiddenSize
        self.vocabSize = vocabSize
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
    }

    /// A model directory's summary; an unnamed model takes the directory's name.
    public init(config: LlamaConfig, name: String, directory: String) {
        self.init(name: name.isEmpty ? (directory as NSString).lastPathComponent : name, modelDir: directory,
                  layerCount: config.layerCount, hiddenSize: config.hiddenSize, vocabSize: config.vocabSize,
                  headCount: config.headCount, kvHeadCount: config.kvHeadCount)
    }

    public init(emulated: EmulatedModel) {
        self.init(name: emulated.name, layerCount: emulated.layerCount, hiddenSize: emulated.hiddenSize, vocabSize: emulated.vocabSize)
    }
}
