import ArgumentParser
import PlacementCore
import SchedulerCore
import Wire

/// `--cluster FILE`: the links a cluster file declares, by node name ("source" and "sink" for
/// the scheduler's side), as placement takes them.
enum DeclaredLinks {
    static func load(_ path: String) throws -> [ClusterLink] {
        let cluster: PlacementCore.Cluster
        do { cluster = try ClusterLoader.load(path: path) } catch { throw ValidationError("--cluster \(path): \(error)") }
        func name(_ end: PlacementCore.Endpoint) -> String {
            switch end {
            case .source: PlanArc.source
            case .sink: PlanArc.sink
            case .node(let index): cluster.nodes[index].name
            }
        }
        return cluster.links.map {
            ClusterLink(fromNode: name($0.a), toNode: name($0.b), bandwidthBytesPerSecond: $0.bandwidthBytesPerSecond, latencySeconds: $0.latencySeconds)
        }
    }
}
