import Foundation

/// The folder a worker may load models from when a peer names the model directory (LoadLayers,
/// or the scheduler's plan): the named folder, resolved (symlinks and "..") must lie inside it.
public struct ModelRoot: Sendable, Equatable {
    /// The root, resolved.
    public let path: String

    public init(_ path: String) throws {
        guard let resolved = Self.resolve(path) else {
            throw WorkerError.invalidArgument("model root \(path) does not exist")
        }
        self.path = resolved
    }

    /// The resolved folder `directory` names, or why it may not be loaded.
    public func check(_ directory: String) throws -> String {
        guard !directory.split(separator: "/").contains("..") else {
            throw WorkerError.invalidArgument("model_dir \(directory) contains '..'; name a folder inside the model root \(path)")
        }
        let absolute = directory.hasPrefix("/") ? directory : "\(path)/\(directory)"
        guard let resolved = Self.resolve(absolute) else {
            throw WorkerError.invalidArgument("model_dir \(directory) does not exist under the model root \(path)")
        }
        guard resolved == path || resolved.hasPrefix(path.hasSuffix("/") ? path : path + "/") else {
            throw WorkerError.invalidArgument("model_dir \(directory) is \(resolved), outside the model root \(path) (symlinks are followed); this worker loads models only from there")
        }
        return resolved
    }

    /// realpath(3): absolute, no symlinks, no "." or ".."; nil when it does not exist.
    static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
