import Foundation
import Wire

/// Long CPU-bound jobs (placement solves, circuit searches), each on a thread of its own, at most
/// `limit` at once. A job past the limit is refused at once with RESOURCE_EXHAUSTED instead of
/// waiting behind minutes-long solves. Not on Swift's cooperative pool (a long job there starves
/// every other call) and not on GCD's global queue (unbounded). One client (API key) may run at
/// most `perClient` of them (`ClientQuota`), so that it cannot take every slot.
public final class WorkPool: @unchecked Sendable {
    public let limit: Int
    private let what: String
    private let setting: String
    private let perClient: ClientQuota
    private let lock = NSLock()
    private var running = 0
    private var refused = 0

    /// `what` names the jobs in messages and Stats ("solves"); `setting` is how to raise the limit.
    /// `perClient`: the most one client runs at once (0: no limit of its own).
    public init(limit: Int, perClient: Int = 0, what: String, setting: String) {
        self.limit = max(limit, 1)
        self.what = what
        self.setting = setting
        self.perClient = ClientQuota(limit: perClient, what: "\(what) running", setting: "--max-jobs-per-client / LATTICE_MAX_JOBS_PER_CLIENT",
                                     statName: "\(what)_refused_client")
    }

    /// Starts `job` on a new thread, or throws RESOURCE_EXHAUSTED when `limit` jobs are running,
    /// or `client` (`CallContext.clientKeyID`) runs its share.
    public func start(for client: String?, _ job: @escaping @Sendable () -> Void) throws {
        let share = try perClient.acquire(client)
        let admitted = lock.withLock { () -> Bool in
            guard running < limit else { refused += 1; return false }
            running += 1
            return true
        }
        guard admitted else {
            share.release()
            throw Status(.resourceExhausted, "\(limit) \(what) are running, the most this service runs at once (\(setting)); retry when one finishes")
        }
        let thread = Thread { [self] in
            job()
            lock.withLock { running -= 1 }
            share.release()
        }
        thread.stackSize = 8 << 20   // solvers recurse; a GCD-sized stack is too small for some inputs
        thread.start()
    }

    /// `<what>_running`, `<what>_refused` (the pool was full) and `<what>_refused_client` (the
    /// client ran its share) for Stats.
    public var stats: [Stat] {
        lock.withLock { [Stat(name: "\(what)_running", value: Double(running)), Stat(name: "\(what)_refused", value: Double(refused))] }
            + perClient.stats
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

    /// LATTICE_MAX_JOBS_PER_CLIENT or the flag, else 0 (no share of its own: the pool refuses
    /// at once when full, so nobody waits behind a busy client, and one user of a local stack
    /// keeps every core).
    public static func perClientLimit(flag: Int?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int {
        try ClientQuota.limit(flag: flag, variable: "LATTICE_MAX_JOBS_PER_CLIENT", defaultLimit: 0, environment: environment)
    }
}
