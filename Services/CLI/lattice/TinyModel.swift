import ArgumentParser
import Foundation
import WorkerCore

/// The model `lattice up` serves when none is given: a small random-weight Llama written once
/// into the state dir (what `lattice model init` writes), so the stack runs with no download.
enum TinyModel {
    static let config = LlamaConfig(hiddenSize: 64, intermediateSize: 172, layerCount: 8, headCount: 4, kvHeadCount: 2, vocabSize: 256)

    static func ensure(in stateDirectory: String) throws -> String {
        let directory = (stateDirectory as NSString).appendingPathComponent("model")
        if FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("config.json")) { return directory }
        do { try RandomModel.write(config: config, seed: 1, to: directory) } catch let error as WorkerError {
            throw ValidationError("cannot write the tiny model into \(directory): \(error.description)")
        }
        return directory
    }
}
