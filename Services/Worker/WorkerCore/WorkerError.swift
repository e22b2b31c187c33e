/// Everything a worker can refuse or fail at, each with a message a user can act on.
public enum WorkerError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A model file or directory is missing, unreadable or malformed.
    case badModel(String)
    /// A request to run something the loaded stage cannot serve (wrong shapes, ids, positions).
    case invalidBatch(String)
    /// The KV cache has no room for what the batch needs; nothing was changed.
    case kvCacheFull(needed: Int, free: Int)
    /// A flag or option has a value we cannot use.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .badModel(let message): return "model: \(message)"
        case .invalidBatch(let message): return "batch: \(message)"
        case .kvCacheFull(let needed, let free):
            return "KV cache full: the batch needs \(needed) more blocks but only \(free) are free; release finished requests or give the worker more KV blocks"
        case .invalidArgument(let message): return message
        }
    }
}
