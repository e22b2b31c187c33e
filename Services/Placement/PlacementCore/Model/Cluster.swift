/// A machine type: memory and network interface speeds (bytes and bytes/s).
public struct MachineType: Sendable, Codable, Equatable {
    public var name: String
    public var vramBytes: Double
    public var nicInBytesPerSecond: Double
    public var nicOutBytesPerSecond: Double

    public init(name: String, vramBytes: Double, nicInBytesPerSecond: Double, nicOutBytesPerSecond: Double) {
        self.name = name
        self.vramBytes = vramBytes
        self.nicInBytesPerSecond = nicInBytesPerSecond
        self.nicOutBytesPerSecond = nicOutBytesPerSecond
    }

    /// The Helix artifact's Google Cloud machine profiles (10 "gbps" = 1e10 bytes/s NICs).
    public static let builtin: [String: MachineType] = {
        let vram: [String: Double] = ["T4": 16, "T4x2": 32, "T4x4": 64, "L4": 24, "L4x2": 48, "V100": 16, "A100": 40]
        return vram.reduce(into: [:]) { table, entry in
            table[entry.key] = MachineType(name: entry.key, vramBytes: entry.value * 1e9,
                                           nicInBytesPerSecond: 1e10, nicOutBytesPerSecond: 1e10)
        }
    }()
}

/// One end of a link: the request source, the token sink, or a compute node (by index).
public enum Endpoint: Hashable, Sendable, CustomStringConvertible {
    case source
    case sink
    case node(Int)

    public var description: String {
        switch self {
        case .source: "source"
        case .sink: "sink"
        case .node(let i): "\(i)"
        }
    }
}

public struct ComputeNode: Sendable, Equatable {
    public var name: String
    public var type: String
    public var region: String?

    public init(name: String, type: String, region: String? = nil) {
        self.name = name
        self.type = type
        self.region = region
    }
}

/// An undirected link; bandwidth in bytes/s, latency in seconds.
public struct Link: Sendable, Equatable {
    public var a: Endpoint
    public var b: Endpoint
    public var bandwidthBytesPerSecond: Double
    public var latencySeconds: Double

    public init(_ a: Endpoint, _ b: Endpoint, bandwidthBytesPerSecond: Double, latencySeconds: Double) {
        self.a = a
        self.b = b
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        self.latencySeconds = latencySeconds
    }
}

/// A cluster: compute nodes (indexed 0..<n in file order), their machine types, and links.
public struct Cluster: Sendable {
    public var name: String
    public var machineTypes: [String: MachineType]
    public var nodes: [ComputeNode]
    public var links: [Link]

    public init(name: String, machineTypes: [String: MachineType], nodes: [ComputeNode], links: [Link]) throws {
        self.name = name
        self.machineTypes = machineTypes
        self.nodes = nodes
        self.links = links
        try validate()
    }

    /// Node count per machine type (the cluster's mix, which the throughput model depends on).
    public var typeCounts: [String: Int] { nodes.reduce(into: [:]) { $0[$1.type, default: 0] += 1 } }

    func validate() throws {
        guard !nodes.isEmpty else { throw PlacementError(section: "nodes", "the cluster has no compute nodes") }
        for (i, node) in nodes.enumerated() where machineTypes[node.type] == nil {
            throw PlacementError(section: "node \(i) (\(node.name))", field: "type",
                                 "unknown machine type '\(node.type)'; known: \(machineTypes.keys.sorted().joined(separator: ", "))")
        }
        for link in links {
            for end in [link.a, link.b] {
                if case .node(let i) = end, !nodes.indices.contains(i) {
                    throw PlacementError(section: "link \(link.a)-\(link.b)", "links to compute node \(i), but the cluster has nodes 0..<\(nodes.count)")
                }
            }
            if link.a == link.b {
                throw PlacementError(section: "link \(link.a)-\(link.b)", "a link must join two different endpoints")
            }
            guard link.bandwidthBytesPerSecond > 0, link.bandwidthBytesPerSecond.isFinite else {
                throw PlacementError(section: "link \(link.a)-\(link.b)", field: "bandwidth", "must be a positive number")
            }
            guard link.latencySeconds >= 0, link.latencySeconds.isFinite else {
                throw PlacementError(section: "link \(link.a)-\(link.b)", field: "latency", "must be zero or positive")
            }
        }
        if !links.contains(where: { $0.a == .source || $0.b == .source }) {
            throw PlacementError(section: "links", "no link leaves the source: requests could never enter the cluster")
        }
        if !links.contains(where: { $0.a == .sink || $0.b == .sink }) {
            throw PlacementError(section: "links", "no link reaches the sink: tokens could never leave the cluster")
        }
    }
}
