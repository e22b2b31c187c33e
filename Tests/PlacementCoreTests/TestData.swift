import Foundation
@testable import PlacementCore

/// Shared data for tests: $LATTICE_SHARED_DATA, else ../shared/data beside the package root.
enum TestData {
    static let directory: String = {
        if let env = ProcessInfo.processInfo.environment["LATTICE_SHARED_DATA"], !env.isEmpty { return env }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        // CI: ../shared beside the clone; a worktree under wt/ has it one level further up.
        for up in [root.deletingLastPathComponent(), root.deletingLastPathComponent().deletingLastPathComponent()] {
            let candidate = up.appendingPathComponent("shared/data").path
            if FileManager.default.fileExists(atPath: candidate + "/helix") { return candidate }
        }
        return root.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }()

    static func cluster(_ name: String) -> String { "\(directory)/helix/clusters/\(name).ini" }
    static func layout(_ name: String) -> String { "\(directory)/helix/layouts/\(name).ini" }
    static var tablesPath: String { "\(directory)/helix/profiles/node_throughput_tables.json" }

    static func problem(_ name: String, _ model: ModelSpec = .llama2_70b, reference: Bool = false) throws -> PlacementProblem {
        try PlacementProblem.load(clusterPath: cluster(name), model: model, dataDirectory: directory, useReferenceTables: reference)
    }

    static func temporaryFile(_ name: String, _ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "lattice-placement-\(UUID().uuidString)-" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The optimality study's 10-node cluster: 6 T4 + 4 L4, full mesh, 1000 "mbps" (1e9 bytes/s), 1 ms.
    static func cluster10() throws -> String {
        let nodes = (0..<6).map { "{\"name\": \"t4-\($0)\", \"type\": \"T4\"}" } + (0..<4).map { "{\"name\": \"l4-\($0)\", \"type\": \"L4\"}" }
        let text = "{\"name\": \"cluster10\", \"nodes\": [\(nodes.joined(separator: ", "))], \"full_mesh\": {\"bandwidth_bytes_per_s\": 1e9, \"latency_s\": 0.001}}"
        let path = NSTemporaryDirectory() + "lattice-placement-\(UUID().uuidString)/cluster10.json"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
