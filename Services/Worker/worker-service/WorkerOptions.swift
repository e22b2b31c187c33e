import Foundation
import ServiceKit
import Wire
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
    static func capacity(settings: StageSettings, flag: Int?) throws -> (layers: Int, kvEntries: Int) {
        do {
            return try settings.capacity(layerLimit: flag)
        } catch let error as WorkerError {
            throw ValidationError(error.description)
        }
    }

    /// A cpu worker with its own model times its layers for placement; others report no profile
    /// (emulated workers are known by their GPU type's profile; a worker without --model learns
    /// its model from the scheduler, after registering).
    static func measuredProfile(settings: StageSettings, layers: Int, kvEntries: Int) throws -> MeasuredProfile? {
        guard settings.backend == .cpu, let path = settings.modelDir else { return nil }
        let timings: LayerTimings
        do { timings = try LayerTimings.measure(path: path) } catch { throw ValidationError("timing the layers of \(path): \(error)") }
        func wire(_ points: [(tokens: Int, seconds: Double)]) -> [LatencyPoint] { points.map { LatencyPoint(tokens: UInt32($0.tokens), seconds: $0.seconds) } }
        return MeasuredProfile(prompt: wire(timings.prompt), decode: wire(timings.decode), maxLayers: UInt32(layers), kvCapacityEntries: UInt64(kvEntries))
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
