import ServiceKit

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
}
