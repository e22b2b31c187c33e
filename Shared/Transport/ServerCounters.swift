import Synchronization

/// One connection's share of `ServerStats`: relaxed atomic counters, bumped by the loop or by a
/// handler's thread without any lock, and summed by `ServerCounters.total` when Stats is read.
final class ConnectionCounters: Sendable {
    let callsTotal = Atomic<UInt64>(0)
    let callsFailed = Atomic<UInt64>(0)
    let callsInFlight = Atomic<UInt64>(0)
    let bytesIn = Atomic<UInt64>(0)
    let bytesOut = Atomic<UInt64>(0)
    let protocolErrors = Atomic<UInt64>(0)
    let framesTooLarge = Atomic<UInt64>(0)
    let maxQueuedWriteBytes = Atomic<UInt64>(0)
    let authFailures = Atomic<UInt64>(0)
    let callsDenied = Atomic<UInt64>(0)
    let callsOverClientLimit = Atomic<UInt64>(0)
    let streamWindowWaits = Atomic<UInt64>(0)

    static func add(_ counter: borrowing Atomic<UInt64>, _ amount: UInt64 = 1) {
        counter.wrappingAdd(amount, ordering: .relaxed)
    }

    static func subtract(_ counter: borrowing Atomic<UInt64>, _ amount: UInt64 = 1) {
        counter.wrappingSubtract(amount, ordering: .relaxed)
    }

    func noteQueued(_ bytes: Int) {
        maxQueuedWriteBytes.max(UInt64(bytes), ordering: .relaxed)
    }

    /// This connection's figures now (summed into a server's by `ServerStats.add`).
    var snapshot: ServerStats {
        var stats = ServerStats()
        stats.callsTotal = callsTotal.load(ordering: .relaxed)
        stats.callsFailed = callsFailed.load(ordering: .relaxed)
        stats.callsInFlight = callsInFlight.load(ordering: .relaxed)
        stats.bytesIn = bytesIn.load(ordering: .relaxed)
        stats.bytesOut = bytesOut.load(ordering: .relaxed)
        stats.protocolErrors = protocolErrors.load(ordering: .relaxed)
        stats.framesTooLarge = framesTooLarge.load(ordering: .relaxed)
        stats.maxQueuedWriteBytes = maxQueuedWriteBytes.load(ordering: .relaxed)
        stats.authFailures = authFailures.load(ordering: .relaxed)
        stats.callsDenied = callsDenied.load(ordering: .relaxed)
        stats.callsOverClientLimit = callsOverClientLimit.load(ordering: .relaxed)
        stats.streamWindowWaits = streamWindowWaits.load(ordering: .relaxed)
        return stats
    }
}

/// A server's counters: those of its open connections, plus the totals of closed ones. The lock
/// is taken when a connection opens or closes and when Stats is read, never per frame. `Locked`
/// (NSLock), not `Mutex`: ThreadSanitizer cannot see Synchronization's futex-based Mutex on Linux
/// and reports every access under it as a race (scripts/sanitize tsan).
final class ServerCounters: Sendable {
    private struct Books {
        var open: [ObjectIdentifier: ConnectionCounters] = [:]
        var closed = ServerStats()
    }
    private let books = Locked(Books())

    func opened(_ counters: ConnectionCounters) {
        books.withLock { $0.open[ObjectIdentifier(counters)] = counters }
    }

    func closed(_ counters: ConnectionCounters) {
        books.withLock { books in
            guard books.open.removeValue(forKey: ObjectIdentifier(counters)) != nil else { return }
            books.closed.add(counters.snapshot)
        }
    }

    var total: ServerStats {
        books.withLock { books in
            var stats = books.closed
            for counters in books.open.values { stats.add(counters.snapshot) }
            stats.connectionsOpen = UInt64(books.open.count)
            return stats
        }
    }
}

extension ServerStats {
    /// Adds another part's figures (a connection's, another loop's): sums, and the larger write
    /// queue. The one rule for combining them.
    mutating func add(_ other: ServerStats) {
        callsTotal += other.callsTotal
        callsFailed += other.callsFailed
        callsInFlight += other.callsInFlight
        connectionsOpen += other.connectionsOpen
        bytesIn += other.bytesIn
        bytesOut += other.bytesOut
        protocolErrors += other.protocolErrors
        framesTooLarge += other.framesTooLarge
        maxQueuedWriteBytes = max(maxQueuedWriteBytes, other.maxQueuedWriteBytes)
        authFailures += other.authFailures
        callsDenied += other.callsDenied
        callsOverClientLimit += other.callsOverClientLimit
        streamWindowWaits += other.streamWindowWaits
    }
}
