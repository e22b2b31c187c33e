import Foundation

/// One directed link a cluster file declares, between nodes named as the stack names its
/// workers (`source` and `sink` are the scheduler's ends).
public struct DeclaredLink: Equatable, Sendable {
    public var from: String
    public var to: String
    public var bandwidthBytesPerSecond: Double
    public var latencySeconds: Double

    public init(from: String, to: String, bandwidthBytesPerSecond: Double, latencySeconds: Double) {
        self.from = from
        self.to = to
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        self.latencySeconds = latencySeconds
    }

    /// The links file `lattice up --cluster` writes: one directed link a line,
    /// `FROM TO BANDWIDTH_BYTES_PER_SECOND LATENCY_SECONDS`; `#` starts a comment.
    public static func parse(_ text: String, source: String) throws -> [DeclaredLink] {
        var links: [DeclaredLink] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: \.isWhitespace)
            if fields.isEmpty { continue }
            guard fields.count == 4, let bandwidth = Double(fields[2]), let latency = Double(fields[3]),
                  bandwidth > 0, bandwidth.isFinite, latency >= 0, latency.isFinite else {
                throw WorkerError.invalidArgument("\(source):\(number + 1): expected 'FROM TO BANDWIDTH_BYTES_PER_SECOND LATENCY_SECONDS' with a positive bandwidth and a latency of 0 or more, got '\(raw)'")
            }
            links.append(DeclaredLink(from: String(fields[0]), to: String(fields[1]), bandwidthBytesPerSecond: bandwidth, latencySeconds: latency))
        }
        return links
    }

    public static func load(path: String) throws -> [DeclaredLink] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WorkerError.invalidArgument("cannot read the links file \(path) (does it exist?)")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path)
    }

    public static func render(_ links: [DeclaredLink]) -> String {
        "# from to bandwidth_bytes_per_second latency_seconds\n"
            + links.map { "\($0.from) \($0.to) \($0.bandwidthBytesPerSecond) \($0.latencySeconds)\n" }.joined()
    }
}

/// A worker's outgoing links of an emulated cluster, applied to what it sends its peers: a
/// transfer waits for the link to be free (one at a time per directed link), takes bytes /
/// bandwidth, and arrives one latency later — the link model of our simulator, so that a
/// geo-distributed cluster file can be served on loopback.
public final class EmulatedLinks: @unchecked Sendable {
    private let outgoing: [String: DeclaredLink]
    private let lock = NSLock()
    private var freeAt: [String: ContinuousClock.Instant] = [:]   // under lock

    /// The links of `links` that leave `worker`.
    public init(worker: String, links: [DeclaredLink]) {
        outgoing = Dictionary(links.filter { $0.from == worker }.map { ($0.to, $0) }, uniquingKeysWith: { first, _ in first })
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
