import Foundation

/// A worker's outgoing links of an emulated cluster, applied to what it sends its peers: a
/// transfer waits for the link to be free (one at a time per directed link), takes bytes /
/// bandwidth, and arrives one latency later — the link model of our simulator, so that a
/// geo-distributed cluster file can be served on loopback.
public final class EmulatedLinks: @unchecked Sendable {
    private let outgoing: [String: DeclaredLink]
    private let lock = NSLock()
    private var freeAt: [String: ContinuousClock.Instant] = [:]   // under lock

    /// The links of `links` that leave `worker`, either way along each (none into the source).
    public init(worker: String, links: [DeclaredLink]) {
        let leaving = links.compactMap { link -> (String, DeclaredLink)? in
            if link.from == worker, link.to != "source" { return (link.to, link) }
            if link.to == worker, link.from != "source" { return (link.from, link) }
            return nil
        }
        outgoing = Dictionary(leaving, uniquingKeysWith: { first, _ in first })
    }

    /// The links of a cluster file that leave `worker`.
    public convenience init(worker: String, clusterFile: String) throws {
        self.init(worker: worker, links: try DeclaredLink.read(clusterFile: clusterFile))
    }

    public var isEmpty: Bool { outgoing.isEmpty }

    /// Reserves the link to `peer` for `bytes` sent now; returns when they arrive there, or nil
    /// when no link to `peer` is declared (loopback speed).
    public func arrival(to peer: String, bytes: Int, now: ContinuousClock.Instant = .now) -> ContinuousClock.Instant? {
        guard let link = outgoing[peer] else { return nil }
        return lock.withLock {
            let start = max(now, freeAt[peer] ?? now)
            let sent = start + .seconds(Double(bytes) / link.bandwidthBytesPerSecond)
            freeAt[peer] = sent
            return sent + .seconds(link.latencySeconds)
        }
    }
}
