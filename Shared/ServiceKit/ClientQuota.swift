import Foundation
import Synchronization
import Wire

/// A per-client limit (issue 12): how many of one kind of thing (Generates waiting for their
/// first token, jobs running) one client may hold at once. A client is its API key: the count is
/// per key id over all of the key's connections, so opening more connections does not escape
/// it. The cluster's own services (the cluster secret: `CallContext.clientKeyID` nil) are not
/// limited here; the service-wide limits (`--queue-limit`, `--max-jobs`) bound them. Past the
/// limit a request is refused RESOURCE_EXHAUSTED, naming the limit and how to raise it, and
/// counted in Stats.
public final class ClientQuota: @unchecked Sendable {
    /// Most held at once per client; 0: no limit.
    public let limit: Int
    private let what: String
    private let setting: String
    private let statName: String
    private let lock = NSLock()
    private var held: [String: Int] = [:]   // guarded by lock
    private var refused = 0                 // guarded by lock

    /// `what` names the things in messages ("solves running"), `setting` the
    /// flag and variable that raise the limit, `statName` the Stats figure of refusals.
    public init(limit: Int, what: String, setting: String, statName: String) {
        self.limit = max(limit, 0)
        self.what = what
        self.setting = setting
        self.statName = statName
    }

    /// Takes one for `client` (nil: the cluster's own, not counted), or throws
    /// RESOURCE_EXHAUSTED when it already holds `limit`. Release the hold when done.
    public func acquire(_ client: String?) throws -> Hold {
        guard let client, limit > 0 else { return Hold(nil) }
        let admitted = lock.withLock { () -> Bool in
            guard held[client, default: 0] < limit else { refused += 1; return false }
            held[client, default: 0] += 1
            return true
        }
        guard admitted else {
            throw Status(.resourceExhausted, "API key '\(client)' already has \(limit) \(what), the most one client may (\(setting)); wait for some to finish")
        }
        return Hold { [self] in release(client) }
    }

    private func release(_ client: String) {
        lock.withLock {
            let left = held[client, default: 1] - 1
            held[client] = left > 0 ? left : nil
        }
    }

    /// `<statName>`: requests refused for this limit so far.
    public var stats: [Stat] { lock.withLock { [Stat(name: statName, value: Double(refused))] } }

    /// One thing held against a client's quota; `release` gives it back, once however often it
    /// is called (a request may release early, at a milestone, and again when it ends).
    public final class Hold: Sendable {
        private let onRelease: (@Sendable () -> Void)?
        private let released = Atomic<Bool>(false)

        init(_ onRelease: (@Sendable () -> Void)?) { self.onRelease = onRelease }

        public func release() {
            guard let onRelease, !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
            onRelease()
        }
    }

    /// The limit from its flag, else its environment variable, else `defaultLimit`: a whole
    /// number, 0 meaning no limit.
    public static func limit(flag: Int?, variable: String, defaultLimit: Int, environment: [String: String]) throws -> Int {
        let name = "--" + ServiceConfig.flagName(variable)
        if let flag {
            guard flag >= 0 else { throw ConfigError("\(name) must be 0 (no limit) or more (got \(flag))") }
            return flag
        }
        guard let text = environment[variable], !text.isEmpty else { return defaultLimit }
        guard let value = Int(text), value >= 0 else { throw ConfigError("\(variable): '\(text)' is not a whole number (0 = no limit)") }
        return value
    }
}
