import ArgumentParser
import ClusterLinks
import SchedulerCore
import Wire

/// `--cluster FILE`: the links a cluster file declares, by node name ("source" and "sink" for
/// the scheduler's side), as placement takes them.
enum DeclaredLinks {
    static func load(_ path: String) throws -> [ClusterLink] {
        do {
            return try DeclaredLink.read(clusterFile: path).map {
                ClusterLink(fromNode: $0.from, toNode: $0.to, bandwidthBytesPerSecond: $0.bandwidthBytesPerSecond, latencySeconds: $0.latencySeconds)
            }
        } catch { throw ValidationError("--cluster \(error)") }
    }
}
