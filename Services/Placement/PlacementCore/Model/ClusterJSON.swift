import DataFiles
import Foundation

/// Lattice's own cluster format (JSON). See Services/Placement/README.md for an example.
/// Units are explicit in the key names: bytes, bytes per second, seconds.
public enum ClusterJSON {
    struct File: Decodable {
        struct Type_: Decodable {
            var vram_bytes: Double
            var nic_in_bytes_per_s: Double
            var nic_out_bytes_per_s: Double
        }
        struct Node: Decodable {
            var name: String
            var type: String
            var region: String?
        }
        struct LinkEntry: Decodable {
            var from: String
            var to: String
            var bandwidth_bytes_per_s: Double
            var latency_s: Double
        }
        struct Mesh: Decodable {
            var bandwidth_bytes_per_s: Double
            var latency_s: Double
        }
        var name: String?
        var machine_types: [String: Type_]?
        var nodes: [Node]
        var links: [LinkEntry]?
        /// Convenience: join every pair of nodes, and source/sink to every node, with this link.
        var full_mesh: Mesh?
    }

    public static func load(path: String) throws -> Cluster {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PlacementError(file: path, "cannot read the file (does it exist?)")
        }
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try parse(data, path: path, defaultName: name)
    }

    public static func parse(_ data: Data, path: String, defaultName: String) throws -> Cluster {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw PlacementError(file: path, section: pathText(context.codingPath), field: key.stringValue, "missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw PlacementError(file: path, section: pathText(context.codingPath.dropLast()), field: context.codingPath.last?.stringValue,
                                 "wrong type: \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw PlacementError(file: path, section: pathText(context.codingPath), "not valid JSON: \(context.debugDescription)")
        } catch {
            throw PlacementError(file: path, "cannot decode: \(error)")
        }
        var types = MachineType.builtin
        for (name, t) in file.machine_types ?? [:] {
            types[name] = MachineType(name: name, vramBytes: t.vram_bytes, nicInBytesPerSecond: t.nic_in_bytes_per_s, nicOutBytesPerSecond: t.nic_out_bytes_per_s)
        }
        let nodes = file.nodes.map { ComputeNode(name: $0.name, type: $0.type, region: $0.region) }
        var index: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            if index[node.name] != nil {
                throw PlacementError(file: path, section: "nodes[\(i)]", field: "name", "duplicate node name '\(node.name)'")
            }
            index[node.name] = i
        }
        var links: [Link] = []
        if let mesh = file.full_mesh {
            for i in nodes.indices {
                links.append(Link(.source, .node(i), bandwidthBytesPerSecond: mesh.bandwidth_bytes_per_s, latencySeconds: mesh.latency_s))
                links.append(Link(.node(i), .sink, bandwidthBytesPerSecond: mesh.bandwidth_bytes_per_s, latencySeconds: mesh.latency_s))
                for j in nodes.indices where j > i {
                    links.append(Link(.node(i), .node(j), bandwidthBytesPerSecond: mesh.bandwidth_bytes_per_s, latencySeconds: mesh.latency_s))
                }
            }
        }
        for (k, entry) in (file.links ?? []).enumerated() {
            func endpoint(_ text: String, _ field: String) throws -> Endpoint {
                if text == "source" { return .source }
                if text == "sink" { return .sink }
                guard let i = index[text] else {
                    throw PlacementError(file: path, section: "links[\(k)]", field: field, "no node named '\(text)' (use a node name, 'source' or 'sink')")
                }
                return .node(i)
            }
            links.append(Link(try endpoint(entry.from, "from"), try endpoint(entry.to, "to"),
                              bandwidthBytesPerSecond: entry.bandwidth_bytes_per_s, latencySeconds: entry.latency_s))
        }
        do {
            return try Cluster(name: file.name ?? defaultName, machineTypes: types, nodes: nodes, links: links)
        } catch let error as PlacementError {
            throw error.inFile(path)
        }
    }

    static func pathText(_ path: [any CodingKey]) -> String? {
        guard !path.isEmpty else { return nil }
        return path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }
}

/// Loads a cluster by file extension: `.ini` (Helix) or `.json` (Lattice).
public enum ClusterLoader {
    public static func load(path: String, dataDirectory: String = SharedData.directory) throws -> Cluster {
        if path.hasSuffix(".ini") {
            let profiles = dataDirectory + "/helix/clusters/machine_profiles.ini"
            let sibling = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("machine_profiles.ini").path
            let machineFile = FileManager.default.fileExists(atPath: sibling) ? sibling
                : (FileManager.default.fileExists(atPath: profiles) ? profiles : nil)
            return try HelixClusterImport.load(clusterPath: path, machineProfilesPath: machineFile)
        }
        if path.hasSuffix(".json") { return try ClusterJSON.load(path: path) }
        throw PlacementError(file: path, "unknown cluster format: use a .json (Lattice) or .ini (Helix) file")
    }
}

/// Where the shared data lives: $LATTICE_SHARED_DATA, else ../shared/data beside the checkout.
public enum SharedData {
    /// `$LATTICE_SHARED_DATA`, else the repository's Shared/Data found from the working directory or the executable.
    public static var directory: String { DataFiles.directory(containing: "helix") ?? "Shared/Data" }
}
