import Foundation
import Logging
import Transport
import Wire

/// What a service's library sees while it registers its methods: the server to register on,
/// its logger and settings, and hooks for its Stats figures and for work after it listens.
public struct ServiceHost: Sendable {
    public let name: ServiceName
    public let server: Server
    public let logger: Logger
    public let config: ServiceConfig
    let hooks: Hooks

    /// Adds service-specific figures to `<service>/Stats` (asked on every Stats call).
    public func addStats(_ provider: @escaping @Sendable () async -> [Stat]) {
        hooks.withLock { $0.stats.append(provider) }
    }

    /// Runs `body` once the server listens, with the address it listens on ("127.0.0.1:40123");
    /// e.g. a worker registering with its scheduler. Runs in its own task, cancelled at shutdown.
    public func whenListening(_ body: @escaping @Sendable (String) async -> Void) {
        hooks.withLock { $0.listening.append(body) }
    }

    /// Runs `body` on SIGTERM/SIGINT, before in-flight calls are drained and the `whenListening`
    /// tasks cancelled, with the server still answering; e.g. a worker finishing its requests
    /// and leaving its scheduler. `body` gets the instant (now + `--drain-timeout`) to end by.
    public func whenStopping(_ body: @escaping @Sendable (ContinuousClock.Instant) async -> Void) {
        hooks.withLock { $0.stopping.append(body) }
    }

    final class Hooks: @unchecked Sendable {
        struct Lists {
            var stats: [@Sendable () async -> [Stat]] = []
            var listening: [@Sendable (String) async -> Void] = []
            var stopping: [@Sendable (ContinuousClock.Instant) async -> Void] = []
        }
        private let lock = NSLock()
        private var lists = Lists()
        func withLock<R>(_ body: (inout Lists) -> R) -> R {
            lock.lock()
            defer { lock.unlock() }
            return body(&lists)
        }
    }
}
