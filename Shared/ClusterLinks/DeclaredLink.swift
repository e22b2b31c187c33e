import Foundation
import PlacementCore

/// A link a cluster file declares, between nodes named as the stack names its workers (`source`
/// and `sink` are the scheduler's ends). Data crosses it both ways, except into the source and
/// out of the sink.
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

    /// The one reader of a cluster file's links (.ini from Helix, or .json): the scheduler plans
    /// with them (`--cluster`), emulated workers delay their sends by them (`--emulate-links`).
    public static func read(clusterFile path: String) throws -> [DeclaredLink] {
        let cluster: Cluster
        do { cluster = try ClusterLoader.load(path: path) } catch { throw ClusterLinksError("\(path): \(error)") }
        func name(_ end: Endpoint) -> String {
            switch end {
            case .source: "source"
            case .sink: "sink"
            case .node(let index): cluster.nodes[index].name
            }
        }
        return cluster.links.map {
            DeclaredLink(from: name($0.a), to: name($0.b), bandwidthBytesPerSecond: $0.bandwidthBytesPerSecond, latencySeconds: $0.latencySeconds)
        }
    }
}

/// A cluster file whose links cannot be read: the file and why.
public struct ClusterLinksError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
