import Foundation
import ServiceKit
import WorkerCore

/// Worker-only settings read from flags and environment.
enum WorkerOptions {
    /// The scheduler's address from `--scheduler` or LATTICE_SCHEDULER, checked to be HOST:PORT.
    static func scheduler(flag: String?, environment: [String: String]) throws -> String? {
        guard let text = flag ?? environment["LATTICE_SCHEDULER"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        do {
            return try Endpoint(parsing: text, source: flag != nil ? "--scheduler" : "LATTICE_SCHEDULER").description
        } catch let error as ConfigError {
            throw ValidationError(error.message)
        }
    }

    /// Layers the worker can hold and its KV room there (token×layer entries), for registration.
    static func capacity(settings: BackendSettings, flag: Int?) throws -> (layers: Int, kvEntries: Int) {
        do {
            switch settings.backend {
            case .cpu:
                let layers = try flag ?? settings.modelDir.map { try ModelDirectory(path: $0).config.layerCount } ?? 1024
                return (layers, settings.kvTokens * layers)
            case .emulated:
                guard let name = settings.modelName else { throw ValidationError("--backend emulated needs --model NAME (llama2-70b or llama1-30b)") }
                let profile = try GPUProfile.load(profilesDirectory: settings.profilesDirectory, model: try EmulatedModel.named(name), gpu: settings.gpu)
                let layers = flag ?? profile.kvCapacityByLayers.keys.max() ?? 1
                let kv = profile.kvCapacityByLayers[layers] ?? settings.kvTokens * layers
                return (layers, kv)
            }
        } catch let error as WorkerError {
            throw ValidationError(error.description)
        }
    }

    /// The listening address as peers can dial it: a wildcard host (0.0.0.0, ::) becomes this
    /// machine's host name (a container's name under compose or Kubernetes).
    static func reachable(_ address: String) -> String {
        for wildcard in ["0.0.0.0:", "[::]:"] where address.hasPrefix(wildcard) {
            return "\(ProcessInfo.processInfo.hostName):\(address.dropFirst(wildcard.count))"
        }
        return address
    }
}
