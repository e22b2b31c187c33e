/// Limits and timeouts shared by servers and client connections.
public struct TransportConfig: Sendable {
    /// Largest frame accepted, checked on the 4-byte length before anything is allocated.
    public var maxFrameBytes: Int = 64 << 20
    /// Bytes a connection may have queued for the socket. Past it a server stops reading new
    /// requests and stream writers wait, so a slow reader cannot grow memory without bound.
    public var maxQueuedWriteBytes: Int = 16 << 20
    /// Calls one connection may have running on a server; past it the server stops reading
    /// that connection until some finish (bounds the memory a pipelining client can claim).
    public var maxConcurrentCallsPerConnection: Int = 1024
    /// Calls one API key may have running on a server, over all its connections (0 = no limit);
    /// past it a call is answered RESOURCE_EXHAUSTED. The cluster's own services are not limited.
    public var maxCallsPerClient: Int = 64
    /// Servers: event loops serving connections, each on its own thread with its own listening
    /// socket on the port (SO_REUSEPORT: the kernel spreads new connections over them). 1 (the
    /// default): the process's shared loop only, as clients use. More help when many
    /// connections keep one loop's core busy; one connection is always served by one loop.
    public var serverLoops: Int = 1
    /// Clients: calls one connection may have waiting for answers; past it a call fails at once
    /// with RESOURCE_EXHAUSTED instead of queueing without bound.
    public var maxPendingCalls: Int = 4096
    /// Clients: request bytes one connection may hold unsent (while connecting); past it a call
    /// fails at once with RESOURCE_EXHAUSTED.
    public var maxUnsentRequestBytes: Int = 256 << 20
    /// Clients: bytes of a stream's items the server may send ahead of the consumer (the
    /// flow-control window; 0 = none, items queue without bound). A slow consumer pauses the
    /// server's sends; a server that sends past it fails the stream with RESOURCE_EXHAUSTED.
    public var streamWindowBytes: Int = 1 << 20
    /// Server connections with no call in flight for this long are closed (nil = never).
    public var idleTimeout: Duration? = nil
    /// Whether a request for a method the server does not know also closes its connection
    /// (after the UNIMPLEMENTED answer). The "bad input" rule asks for it.
    public var closeOnUnknownMethod: Bool = true
    /// Servers: what a connection must prove in the handshake before its first call (nil: no
    /// proof asked; for in-process tests and benchmarks, services always set it).
    public var auth: ServerAuth? = nil
    /// Clients: what this side proves when the server asks (nil: `Credentials.ambient()`,
    /// from this process's environment).
    public var credentials: Credentials? = nil

    public init() {}
}

/// How a client connection retries connecting: exponential backoff with jitter.
public struct ReconnectPolicy: Sendable {
    public var initialDelay: Duration = .milliseconds(50)
    public var maxDelay: Duration = .seconds(2)
    /// Connection attempts made for calls that wait, before they fail with UNAVAILABLE
    /// (nil = keep trying while calls wait; they still end at their deadline or on cancel).
    public var maxAttempts: Int? = nil

    public init(initialDelay: Duration = .milliseconds(50), maxDelay: Duration = .seconds(2), maxAttempts: Int? = nil) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
    }

    public static let `default` = ReconnectPolicy()
    /// One attempt per batch of waiting calls, no retries.
    public static let never = ReconnectPolicy(maxAttempts: 1)

    /// The wait before retry number `attempt` (1 = first retry): `initialDelay * 2^(attempt-1)`,
    /// capped at `maxDelay`, scaled by `jitter` in 0.5...1 so that clients do not retry in step.
    public func delay(beforeRetry attempt: Int, jitter: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let initialMs = Self.milliseconds(initialDelay)
        let capMs = Self.milliseconds(maxDelay)
        let base = min(initialMs * Double(1 << exponent), capMs)
        let scale = min(max(jitter, 0.5), 1.0)
        return .milliseconds(Int64((base * scale).rounded()))
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
