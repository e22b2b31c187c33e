import Foundation

/// A worker's outgoing links of an emulated cluster, applied to what it sends its peers: a
/// transfer waits for the link to be free (one at a time per directed link), takes bytes /
/// bandwidth, and arrives one latency later — the link model of our simulator, so that a
/// geo-distributed cluster file can be served on loopback.
public final class EmulatedLinks: @unchecked Sendable {
    private let outgoing: [String: DeclaredLink]
    /// The scheduler's link into this worker: what it sends crosses it (the scheduler does not
    /// emulate links, so the worker applies it on receipt).
    private let fromSource: DeclaredLink?
    private let lock = NSLock()
    private var freeAt: [String: ContinuousClock.Instant] = [:]   // under lock, by peer ("source" for the link in)

    /// The links of `links` that leave `worker`, either way along each, "sink" (to the scheduler)
    /// included, and the one into it from "source".
    public init(worker: String, links: [DeclaredLink]) {
        let leaving = links.compactMap { link -> (String, DeclaredLink)? in
            if link.from == worker, link.to != "source" { return (link.to, link) }
            if link.to == worker, link.from != "source" { return (link.from, link) }
            return nil
        }
        outgoing = Dictionary(leaving, uniquingKeysWith: { first, _ in first })
        fromSource = links.first { $0.from == "source" && $0.to == worker }
    }

    /// The links of a cluster file that leave `worker`.
    public convenience init(worker: String, clusterFile: String) throws {
        self.init(worker: worker, links: try DeclaredLink.read(clusterFile: clusterFile))
    }

    public var isEmpty: Bool { outgoing.isEmpty && fromSource == nil }

    /// Reserves the link to `peer` ("sink": the scheduler) for `bytes` sent now; returns when they
    /// arrive there, or nil when no link to `peer` is declared (loopback speed).
    public func arrival(to peer: String, bytes: Int, now: ContinuousClock.Instant = .now) -> ContinuousClock.Instant? {
        transfer(to: peer, bytes: bytes, now: now)?.arrival
    }

    /// `arrival`, with when the transfer starts on the link (after those ahead of it).
    public func transfer(to peer: String, bytes: Int, now: ContinuousClock.Instant = .now) -> Transfer? {
        outgoing[peer].map { reserve($0, key: peer, bytes: bytes, now: now) }
    }

    /// Reserves the scheduler's link into this worker for `bytes` the scheduler sent at `now`;
    /// nil when no such link is declared.
    public func transferFromSource(bytes: Int, now: ContinuousClock.Instant = .now) -> Transfer? {
        fromSource.map { reserve($0, key: "source", bytes: bytes, now: now) }
    }

    /// A transfer on a link: when it starts sending and when it arrives.
    public struct Transfer: Sendable, Equatable {
        public var start: ContinuousClock.Instant
        public var arrival: ContinuousClock.Instant
    }

    /// One transfer at a time per directed link: it waits for the link, takes bytes / bandwidth,
    /// then the latency.
    private func reserve(_ link: DeclaredLink, key: String, bytes: Int, now: ContinuousClock.Instant) -> Transfer {
        lock.withLock {
            let start = max(now, freeAt[key] ?? now)
            let sent = start + .seconds(Double(bytes) / link.bandwidthBytesPerSecond)
            freeAt[key] = sent
            return Transfer(start: start, arrival: sent + .seconds(link.latencySeconds))
        }
    }
}
