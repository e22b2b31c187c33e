import Foundation
import Logging
import Transport
import Wire

/// A service's settings after flags and environment are merged and checked.
public struct ServiceConfig: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 0
    public var logFormat: LogFormat = .text
    public var logLevel: Logger.Level = .info
    public var maxFrameBytes: Int = 64 << 20
    public var maxQueuedWriteBytes: Int = 16 << 20
    public var maxCallsPerConnection: Int = 1024
    public var maxCallsPerClient: Int = 64
    public var idleTimeout: Duration? = nil
    public var drainTimeout: Duration = .seconds(10)
    /// Event loops serving connections (`TransportConfig.serverLoops`).
    public var loops: Int = 1
    /// More loops than this only add threads: it is far above any core count we deploy on.
    static let maxLoops = 64
    /// Test hook, environment only (LATTICE_DEBUG_STATS_DELAY, seconds): each Stats answer waits
    /// this long, so that a test can hold a real call in flight across SIGTERM.
    public var debugStatsDelay: Duration? = nil
    /// The handshake every connection must pass (environment only: secrets never go in flags).
    public var auth: ServerAuth? = nil

    public init() {}

    /// Merges flags over environment over defaults; every bad value is a `ConfigError` that
    /// names the flag, the environment variable and what is accepted.
    public init(options: ServiceOptions, environment: [String: String]) throws {
        func value(_ flag: String?, _ variable: String) -> (text: String, source: String)? {
            if let flag { return (flag, "--\(Self.flagName(variable))") }
            if let text = environment[variable], !text.isEmpty { return (text, variable) }
            return nil
        }
        if let (text, source) = value(options.listen, "LATTICE_LISTEN") {
            let endpoint = try Endpoint(parsing: text, source: source)
            self.host = endpoint.host
            self.port = endpoint.port
        }
        if let (text, source) = value(options.logFormat, "LATTICE_LOG_FORMAT") {
            guard let format = LogFormat(rawValue: text.lowercased()) else {
                throw ConfigError("\(source): unknown log format '\(text)'; use text or json")
            }
            logFormat = format
        }
        if let (text, source) = value(options.logLevel, "LATTICE_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigError("\(source): unknown log level '\(text)'; use one of \(names)")
            }
            logLevel = level
        }
        if let (text, source) = value(options.maxFrameBytes, "LATTICE_MAX_FRAME_BYTES") {
            maxFrameBytes = try Self.byteCount(text, source: source)
        }
        if let (text, source) = value(options.maxQueuedWriteBytes, "LATTICE_MAX_QUEUED_WRITE_BYTES") {
            maxQueuedWriteBytes = try Self.byteCount(text, source: source)
        }
        if let (text, source) = value(options.maxCallsPerConnection, "LATTICE_MAX_CALLS_PER_CONNECTION") {
            guard let count = Int(text), count > 0 else {
                throw ConfigError("\(source): '\(text)' is not a positive whole number of calls")
            }
            maxCallsPerConnection = count
        }
        if let (text, source) = value(options.maxCallsPerClient, "LATTICE_MAX_CALLS_PER_CLIENT") {
            guard let count = Int(text), count >= 0 else {
                throw ConfigError("\(source): '\(text)' is not a whole number of calls (0 = no limit)")
            }
            maxCallsPerClient = count
        }
        if let (text, source) = value(options.idleTimeout, "LATTICE_IDLE_TIMEOUT") {
            let seconds = try Self.seconds(text, source: source)
            idleTimeout = seconds == .zero ? nil : seconds
        }
        if let (text, source) = value(options.drainTimeout, "LATTICE_DRAIN_TIMEOUT") {
            drainTimeout = try Self.seconds(text, source: source)
        }
        if let (text, source) = value(options.loops, "LATTICE_LOOPS") {
            guard let count = Int(text), (1...Self.maxLoops).contains(count) else {
                throw ConfigError("\(source): '\(text)' is not a number of event loops from 1 to \(Self.maxLoops)")
            }
            loops = count
        }
        do {
            auth = try ServerAuth.fromEnvironment(environment, clientMethods: Methods.clientMethods)
        } catch {
            throw ConfigError(error.message)
        }
        if let text = environment["LATTICE_DEBUG_STATS_DELAY"], !text.isEmpty {
            debugStatsDelay = try Self.seconds(text, source: "LATTICE_DEBUG_STATS_DELAY")
        }
    }

    /// The transport settings this configuration asks for.
    public var transport: TransportConfig {
        var config = TransportConfig()
        config.maxFrameBytes = maxFrameBytes
        config.maxQueuedWriteBytes = maxQueuedWriteBytes
        config.maxConcurrentCallsPerConnection = maxCallsPerConnection
        config.idleTimeout = idleTimeout
        config.auth = auth
        config.maxCallsPerClient = maxCallsPerClient
        config.serverLoops = loops
        return config
    }

    /// "LATTICE_MAX_FRAME_BYTES" → "max-frame-bytes".
    static func flagName(_ variable: String) -> String {
        variable.dropFirst("LATTICE_".count).lowercased().replacingOccurrences(of: "_", with: "-")
    }

    static func byteCount(_ text: String, source: String) throws -> Int {
        guard let value = Int(text), value > 0 else {
            throw ConfigError("\(source): '\(text)' is not a positive whole number of bytes")
        }
        return value
    }

    static func seconds(_ text: String, source: String) throws -> Duration {
        guard let value = Double(text), value.isFinite, value >= 0, value < 1e9 else {
            throw ConfigError("\(source): '\(text)' is not a number of seconds (0 or more)")
        }
        return .milliseconds(Int64((value * 1000).rounded()))
    }
}

/// A flag or environment value that cannot be used, with what to do instead.
public struct ConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
