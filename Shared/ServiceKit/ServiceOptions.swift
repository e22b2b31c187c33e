import ArgumentParser

/// The flags every service takes. Each may also come from the environment (flag wins):
/// LATTICE_LISTEN, LATTICE_LOG_FORMAT, LATTICE_LOG_LEVEL, LATTICE_MAX_FRAME_BYTES,
/// LATTICE_MAX_QUEUED_WRITE_BYTES, LATTICE_MAX_CALLS_PER_CONNECTION, LATTICE_MAX_CALLS_PER_CLIENT, LATTICE_IDLE_TIMEOUT,
/// LATTICE_DRAIN_TIMEOUT, LATTICE_LOOPS. Secrets come from the environment only, never a flag (flags show in
/// `ps`): LATTICE_CLUSTER_SECRET_FILE (or LATTICE_CLUSTER_SECRET) is required, and
/// LATTICE_API_KEYS_FILE lists the API keys clients may use (re-read when it changes).
public struct ServiceOptions: ParsableArguments, Sendable {
    @Option(help: "Address to serve on, HOST:PORT; port 0 picks a free port and prints it. [env: LATTICE_LISTEN] (default: 127.0.0.1:0)")
    public var listen: String?

    @Option(help: "Log format on stderr: text or json. [env: LATTICE_LOG_FORMAT] (default: text)")
    public var logFormat: String?

    @Option(help: "Lowest log level: trace, debug, info, notice, warning, error, critical. [env: LATTICE_LOG_LEVEL] (default: info)")
    public var logLevel: String?

    @Option(help: "Largest frame accepted, in bytes. [env: LATTICE_MAX_FRAME_BYTES] (default: 67108864)")
    public var maxFrameBytes: String?

    @Option(help: "Per-connection write queue limit, in bytes. [env: LATTICE_MAX_QUEUED_WRITE_BYTES] (default: 16777216)")
    public var maxQueuedWriteBytes: String?

    @Option(help: "Calls one connection may have running at once. [env: LATTICE_MAX_CALLS_PER_CONNECTION] (default: 1024)")
    public var maxCallsPerConnection: String?

    @Option(help: "Calls one client (API key) may have running at once, over all its connections; the cluster secret is not limited (0 = no limit). [env: LATTICE_MAX_CALLS_PER_CLIENT] (default: 64)")
    public var maxCallsPerClient: String?

    @Option(help: "Close connections idle this many seconds (0 = never). [env: LATTICE_IDLE_TIMEOUT] (default: 0)")
    public var idleTimeout: String?

    @Option(help: "On SIGTERM/SIGINT, seconds to let in-flight calls finish. [env: LATTICE_DRAIN_TIMEOUT] (default: 10)")
    public var drainTimeout: String?

    @Option(help: "Event loops serving connections, each a thread with its own listening socket on the port (SO_REUSEPORT; the kernel spreads connections over them). [env: LATTICE_LOOPS] (default: 1)")
    public var loops: String?

    public init() {}
}
