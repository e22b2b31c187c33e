import Foundation
import Tensor

/// Where a model's weights come from: a Hugging Face directory or a GGUF file. Tensors are
/// asked for by their Hugging Face names (`LlamaTensorNames`) with the shape the config implies.
public protocol WeightSource: AnyObject {
    var path: String { get }
    var config: LlamaConfig { get }
    func has(_ name: String) -> Bool
    /// The tensor in Float32 (norms, and every weight on the reference path).
    func tensor(_ name: String, shape: [Int]) throws -> Tensor
    /// A linear layer's weight `[out, in]`, quantized when the file stores it quantized.
    func linear(_ name: String, shape: [Int]) throws -> LinearWeight
}

extension ModelDirectory: WeightSource {
    public func linear(_ name: String, shape: [Int]) throws -> LinearWeight { .dense(try tensor(name, shape: shape)) }
}

public enum WeightSources {
    /// Opens `path`: a `.gguf` file or a model directory. `dequantize` converts a GGUF's quantized
    /// weights to Float32 at load (the reference path).
    public static func open(_ path: String, dequantize: Bool = false) throws -> any WeightSource {
        isGGUF(path) ? try GGUFModel(path: path, dequantize: dequantize) : try ModelDirectory(path: path)
    }

    /// A path that names a GGUF file rather than a model directory.
    public static func isGGUF(_ path: String) -> Bool { path.lowercased().hasSuffix(".gguf") }
}
