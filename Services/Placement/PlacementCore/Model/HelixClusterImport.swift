import Foundation

/// Imports the Helix artifact's `.ini` cluster files as they are: `[ComputeNode-i]` sections with
/// `type`, `[Link-a-b]` sections with `bandwidth` and `latency`, machine types from
/// `machine_profiles.ini` ("mbps"/"gbps" are 1e6/1e9 bytes per second, as in the artifact).
public enum HelixClusterImport {
    public static func load(clusterPath: String, machineProfilesPath: String?) throws -> Cluster {
        let types = try machineProfilesPath.map { try loadMachineTypes(path: $0) } ?? MachineType.builtin
        let ini = try IniFile(path: clusterPath)
        let name = URL(fileURLWithPath: clusterPath).deletingPathExtension().lastPathComponent
        return try parse(ini, name: name, machineTypes: types)
    }

    public static func loadMachineTypes(path: String) throws -> [String: MachineType] {
        let ini = try IniFile(path: path)
        var types: [String: MachineType] = [:]
        for section in ini.sections where section.name != "SourceNode" && section.name != "SinkNode" {
            func quantity(_ key: String) throws -> Double {
                let text = try ini.require(section, key)
                guard let value = HelixUnits.parse(text) else {
                    throw PlacementError(file: path, section: section.name, field: key, "cannot read '\(text)' (expected e.g. '10 * gbps')")
                }
                return value
            }
            types[section.name] = MachineType(name: section.name, vramBytes: try quantity("vram_size"),
                                              nicInBytesPerSecond: try quantity("inbound_nic_speed"),
                                              nicOutBytesPerSecond: try quantity("outbound_nic_speed"))
        }
        return types
    }

    static func parse(_ ini: IniFile, name: String, machineTypes: [String: MachineType]) throws -> Cluster {
        let path = ini.path
        guard let header = ini.section("NodeNames") else {
            throw PlacementError(file: path, section: "NodeNames", "missing section")
        }
        let countText = try ini.require(header, "total_compute_nodes")
        guard let count = Int(countText), count > 0 else {
            throw PlacementError(file: path, section: "NodeNames", field: "total_compute_nodes", "expected a positive integer, found '\(countText)'")
        }
        var nodes: [ComputeNode] = []
        for i in 0..<count {
            let sectionName = "ComputeNode-\(i)"
            guard let section = ini.section(sectionName) else {
                throw PlacementError(file: path, section: sectionName, "missing (total_compute_nodes is \(count))")
            }
            let type = try ini.require(section, "type")
            guard machineTypes[type] != nil else {
                throw PlacementError(file: path, section: sectionName, field: "type",
                                     "unknown machine type '\(type)'; known: \(machineTypes.keys.sorted().joined(separator: ", "))")
            }
            nodes.append(ComputeNode(name: "node-\(i)", type: type, region: section.value("region")))
        }
        var links: [Link] = []
        for section in ini.sections where section.name.hasPrefix("Link-") {
            let parts = section.name.split(separator: "-").map(String.init)
            guard parts.count == 3 else {
                throw PlacementError(file: path, section: section.name, "expected a name like Link-3-7 or Link-source-0")
            }
            func endpoint(_ text: String) throws -> Endpoint {
                switch text {
                case "source": return .source
                case "sink": return .sink
                default:
                    guard let i = Int(text) else {
                        throw PlacementError(file: path, section: section.name, "'\(text)' is neither 'source', 'sink' nor a node index")
                    }
                    guard (0..<count).contains(i) else {
                        throw PlacementError(file: path, section: section.name, "links to compute node \(i), but the file declares nodes 0..<\(count)")
                    }
                    return .node(i)
                }
            }
            let bandwidthText = try ini.require(section, "bandwidth")
            let latencyText = try ini.require(section, "latency")
            guard let bandwidth = HelixUnits.parse(bandwidthText), bandwidth > 0 else {
                throw PlacementError(file: path, section: section.name, field: "bandwidth", "cannot read '\(bandwidthText)' (expected e.g. '1000 * mbps')")
            }
            guard let latency = HelixUnits.parse(latencyText), latency >= 0 else {
                throw PlacementError(file: path, section: section.name, field: "latency", "cannot read '\(latencyText)' (expected e.g. '1 * MilliSec')")
            }
            links.append(Link(try endpoint(parts[1]), try endpoint(parts[2]), bandwidthBytesPerSecond: bandwidth, latencySeconds: latency))
        }
        do {
            return try Cluster(name: name, machineTypes: machineTypes, nodes: nodes, links: links)
        } catch let error as PlacementError {
            throw error.inFile(path)
        }
    }
}
