import Routing
import Wire

/// The links placement is told about: declared in a cluster file (they win), else measured
/// between workers (worker/MeasureLinks), else a stated default. A measurement is kept while
/// both ends keep their addresses.
public struct LinkTable: Sendable, Equatable {
    /// Bandwidth and one-way latency of a link.
    public struct Figures: Sendable, Equatable {
        public var bandwidthBytesPerSecond: Double
        public var latencySeconds: Double
        public init(bandwidthBytesPerSecond: Double, latencySeconds: Double) {
            self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
            self.latencySeconds = latencySeconds
        }
    }
    /// A worker as measured: its id at an address.
    public struct End: Hashable, Sendable {
        public var id: String
        public var address: String
        public init(id: String, address: String) {
            self.id = id
            self.address = address
        }
    }
    struct Pair: Hashable { var from: End; var to: End }

    /// The stated default for a link nobody measured or declared: 1 GB/s, no latency.
    public static let unmeasured = Figures(bandwidthBytesPerSecond: 1e9, latencySeconds: 0)

    /// Links of a cluster file, by node name ("source" and "sink" for the scheduler's side).
    public let declared: [ClusterLink]
    private var measured: [Pair: Figures] = [:]

    public init(declared: [ClusterLink] = []) { self.declared = declared }

    /// Records what `from` measured to `to`.
    public mutating func record(from: End, to: End, _ figures: Figures) { measured[Pair(from: from, to: to)] = figures }

    /// Whether `from` has measured its link to `to` at their current addresses.
    public func isMeasured(from: End, to: End) -> Bool { measured[Pair(from: from, to: to)] != nil }

    /// The link between two workers: the slower direction of what they measured, else the default.
    public func figures(_ a: End, _ b: End) -> Figures {
        let both = [measured[Pair(from: a, to: b)], measured[Pair(from: b, to: a)]].compactMap { $0 }
        guard !both.isEmpty else { return Self.unmeasured }
        return Figures(bandwidthBytesPerSecond: both.map(\.bandwidthBytesPerSecond).min() ?? 0, latencySeconds: both.map(\.latencySeconds).max() ?? 0)
    }

    /// Where a link's figures come from.
    public enum Source: String, Sendable { case declared, measured, assumed }

    /// The cluster's links for placement over `workers`: the declared ones among them as
    /// declared, and for every other pair (the scheduler's side included) one link both ways.
    public func clusterLinks(_ workers: [End]) -> [ClusterLink] { links(workers).map(\.link) }

    /// `clusterLinks`, each with where its figures come from (for ClusterStatus).
    public func links(_ workers: [End]) -> [(link: ClusterLink, source: Source)] {
        let names = Set(workers.map(\.id) + [PlanArc.source, PlanArc.sink])
        let kept = declared.filter { names.contains($0.fromNode) && names.contains($0.toNode) }
        let covered = Set(kept.flatMap { [[$0.fromNode, $0.toNode], [$0.toNode, $0.fromNode]] })
        func link(_ a: String, _ b: String, _ f: Figures, _ source: Source) -> (ClusterLink, Source)? {
            covered.contains([a, b]) ? nil : (ClusterLink(fromNode: a, toNode: b, bandwidthBytesPerSecond: f.bandwidthBytesPerSecond, latencySeconds: f.latencySeconds), source)
        }
        var links = kept.map { ($0, Source.declared) }
        for (i, a) in workers.enumerated() {
            links += [link(PlanArc.source, a.id, Self.unmeasured, .assumed), link(a.id, PlanArc.sink, Self.unmeasured, .assumed)].compactMap { $0 }
            for b in workers[(i + 1)...] {
                let source: Source = isMeasured(from: a, to: b) || isMeasured(from: b, to: a) ? .measured : .assumed
                links += [link(a.id, b.id, figures(a, b), source)].compactMap { $0 }
            }
        }
        return links
    }
}
