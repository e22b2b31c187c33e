import Foundation
import Wire

/// Long CPU-bound jobs (placement solves, circuit searches), each on a thread of its own, at most
/// `limit` at once. A job past the limit is refused at once with RESOURCE_EXHAUSTED instead of
/// waiting behind minutes-long solves. Not on Swift's cooperative pool (a long job there starves
/// every other call) and not on GCD's global queue (unbounded).
public final class WorkPool: @unchecked Sendable {
    public let limit: Int
    private let what: String
    private let setting: String
    private let lock = NSLock()
    private var running = 0
    private var refused = 0

    /// `what` names the jobs in messages and Stats ("solves"); `setting` is how to raise the limit.
    public init(limit: Int, what: String, setting: String) {
        self.limit = max(limit, 1)
        self.what = what
        self.setting = setting
    }

    /// Starts `job` on a new thread, or throws RESOURCE_EXHAUSTED when `limit` jobs are running.
    public func start(_ job: @escaping @Sendable () -> Void) throws {
        let admitted = lock.withLock { () -> Bool in
            guard running < limit else { refused += 1; return false }
            running += 1
            return true
        }
        guard admitted else {
            throw Status(.resourceExhausted, "\(limit) \(what) are running, the most this service runs at once (\(setting)); retry when one finishes")
        }
        let thread = Thread { [self] in
            job()
            lock.withLock { running -= 1 }
        }
        thread.stackSize = 8 << 20   // solvers recurse; a GCD-sized stack is too small for some inputs
        thread.start()
    }

    /// `<what>_running` and `<what>_refused` for Stats.
    public var stats: [Stat] {
        lock.withLock { [Stat(name: "\(what)_running", value: Double(running)), Stat(name: "\(what)_refused", value: Double(refused))] }
    }

    /// LATTICE_MAX_JOBS or the flag, else the number of cores.
    public static func limit(flag: Int?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int {
        if let flag { guard flag > 0 else { throw ConfigError("--max-jobs must be at least 1 (got \(flag))") }; return flag }
        if let text = environment["LATTICE_MAX_JOBS"], !text.isEmpty {
            guard let value = Int(text), value > 0 else { throw ConfigError("LATTICE_MAX_JOBS: '\(text)' is not a positive whole number") }
            return value
        }
        return max(ProcessInfo.processInfo.activeProcessorCount, 1)
    }
}
