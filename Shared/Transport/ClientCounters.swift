import Synchronization

/// What a client connection counts (relaxed atomics, no lock): calls refused at its limits and
/// how its streams' flow control went. Each connection has its own; the process sums them all
/// in `ClientCounters.process` (a service's Stats reports those of its outgoing calls).
public final class ClientCounters: Sendable {
    let callsRefused = Atomic<UInt64>(0)
    let windowUpdatesSent = Atomic<UInt64>(0)
    let streamOverruns = Atomic<UInt64>(0)
    let maxStreamBufferedBytes = Atomic<UInt64>(0)

    /// Every connection of this process together.
    public static let process = ClientCounters()

    enum Event { case callRefused, windowUpdateSent, streamOverrun }

    func add(_ event: Event) {
        count(event)
        if self !== Self.process { Self.process.count(event) }
    }

    private func count(_ event: Event) {
        switch event {
        case .callRefused: callsRefused.wrappingAdd(1, ordering: .relaxed)
        case .windowUpdateSent: windowUpdatesSent.wrappingAdd(1, ordering: .relaxed)
        case .streamOverrun: streamOverruns.wrappingAdd(1, ordering: .relaxed)
        }
    }

    func noteBuffered(_ bytes: Int) {
        maxStreamBufferedBytes.max(UInt64(bytes), ordering: .relaxed)
        if self !== Self.process { Self.process.maxStreamBufferedBytes.max(UInt64(bytes), ordering: .relaxed) }
    }

    public var stats: ClientStats {
        ClientStats(callsRefused: callsRefused.load(ordering: .relaxed),
                    windowUpdatesSent: windowUpdatesSent.load(ordering: .relaxed),
                    streamOverruns: streamOverruns.load(ordering: .relaxed),
                    maxStreamBufferedBytes: maxStreamBufferedBytes.load(ordering: .relaxed))
    }
}

/// A client connection's counters; read them with `Connection.stats`.
public struct ClientStats: Sendable, Equatable {
    /// Calls refused RESOURCE_EXHAUSTED at once: too many waiting for answers, or too many
    /// request bytes waiting for a connection.
    public var callsRefused: UInt64
    /// WINDOW_UPDATE frames sent: stream bytes granted back to servers as consumers took items.
    public var windowUpdatesSent: UInt64
    /// Streams failed because a server sent past the window (RESOURCE_EXHAUSTED).
    public var streamOverruns: UInt64
    /// The most bytes any stream had received and its consumer not yet taken.
    public var maxStreamBufferedBytes: UInt64
}
