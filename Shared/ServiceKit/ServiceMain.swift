import ArgumentParser
import Foundation
import Logging
import Transport
import Wire

/// The version every service reports in Health.
public enum LatticeVersion {
    public static let current = "0.1.0"
}

/// Runs one service process: settings, logging, signals, Health/Stats, the service's own
/// methods, the listening line on stdout, and a drained shutdown on SIGTERM/SIGINT.
///
/// A service main:
///
///     @main struct PlacementService: AsyncParsableCommand {
///         @OptionGroup var options: ServiceOptions
///         func run() async throws {
///             try await ServiceMain.run(.placement, options: options) { host in
///                 // Typed: a request that does not decode answers INVALID_ARGUMENT by itself.
///                 host.server.unary("placement/Plan", PlanRequest.self) { request, context in try plan(request) }
///                 host.addStats { [Stat(name: "plans_solved", value: solved.current)] }
///             }
///         }
///     }
///
/// - Prints `listening HOST:PORT` on stdout once bound (port 0 picks a free port); logs go to
///   stderr, text or one JSON object per line.
/// - `<service>/Health` and `<service>/Stats` are built in; Stats carries the transport's
///   counters, `protocol_errors`, `max_queued_write_bytes`, then the `addStats` figures.
/// - SIGTERM/SIGINT: the service's `whenStopping` work, then stop accepting, drain in-flight calls
///   (`--drain-timeout` each), exit 0; a second signal exits 1 at once. SIGPIPE is ignored.
/// - Test hook: LATTICE_DEBUG_STATS_DELAY=SECONDS makes each Stats answer wait, so that a test
///   can hold a real call in flight across SIGTERM.
public enum ServiceMain {
    /// Returns after a clean shutdown (the process then exits 0). Bad flags or environment
    /// throw `ValidationError` (exit 64 with usage); a failed bind throws the transport's error.
    public static func run(
        _ name: ServiceName, options: ServiceOptions,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        register: (ServiceHost) async throws -> Void
    ) async throws {
        let config: ServiceConfig
        do {
            config = try ServiceConfig(options: options, environment: environment)
        } catch let error as ConfigError {
            throw ValidationError(error.message)  // exit 64 with the usage, like any bad flag
        }
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, format: config.logFormat, level: config.logLevel)
        }
        var logger = Logger(label: name.displayName)
        logger.logLevel = config.logLevel

        let signals = try TerminationSignals { number in
            Logger(label: name.displayName).warning("\(signalName(number)) again while draining: exiting now")
            exit(1)
        }
        let server = Server(config: config.transport, logger: logger)
        let hooks = ServiceHost.Hooks()
        let health = HealthEndpoints(service: name, version: LatticeVersion.current, statsDelay: config.debugStatsDelay)
        health.register(on: server, hooks: hooks)
        try await register(ServiceHost(name: name, server: server, logger: logger, config: config, hooks: hooks))

        let port = try server.start(host: config.host, port: config.port)
        let address = Endpoint(host: config.host, port: port).description
        // The one machine-readable line on stdout: launchers read the picked port from it.
        // (A plain write: Foundation's FileHandle would trap if stdout were already closed.)
        LineSink(descriptor: 1).write("listening \(address)\n")
        logger.info("serving", metadata: ["address": "\(address)", "version": "\(LatticeVersion.current)", "pid": "\(getpid())"])

        let background = hooks.withLock { $0.listening }.map { body in Task { await body(address) } }

        let number = await signals.first()
        health.status = .draining
        logger.info("\(signalName(number)): draining in-flight calls", metadata: ["timeout": "\(config.drainTimeout)"])
        let deadline = ContinuousClock.now + config.drainTimeout
        for body in hooks.withLock({ $0.stopping }) { await body(deadline) }
        for task in background { task.cancel() }
        await server.shutdown(timeout: config.drainTimeout)
        logger.info("stopped")
    }
}
