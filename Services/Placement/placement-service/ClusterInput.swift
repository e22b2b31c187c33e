import Foundation
import PlacementCore
import Transport
import Wire

/// Wire cluster, model and layout → PlacementCore values. Every problem with the input becomes
/// INVALID_ARGUMENT naming the request field (e.g. `cluster.nodes[3].gpu_type`).
struct PlacementInputs: Sendable {
    /// Shared data: GPU profiles, Helix machine profiles, workload.
    let dataDirectory: String

    /// Types the CPU-style nominal model covers (no measured GPU profile exists for them).
    static let unprofiledTypes: Set<String> = ["CPU"]

    func problem(_ cluster: Wire.Cluster?, _ model: Wire.ModelSpec?, variant: MilpVariant) throws -> (PlacementProblem, Connectivity) {
        let (problem, connectivity, _) = try problemAndProfiles(cluster, model, variant: variant)
        return (problem, connectivity)
    }

    /// The problem, and the latency profiles of the nodes that timed themselves (by type).
    func problemAndProfiles(_ cluster: Wire.Cluster?, _ model: Wire.ModelSpec?, variant: MilpVariant) throws -> (PlacementProblem, Connectivity, [String: GPUProfile]) {
        let spec = try modelSpec(model)
        let (core, oneWay, timings) = try self.cluster(cluster)
        var problem: PlacementProblem
        let measured: [String: GPUProfile]
        do {
            measured = try timings.mapValues { try Self.profile($0.profile, type: $0.type, field: $0.field, model: spec) }
            problem = try PlacementProblem.build(cluster: core, model: spec, dataDirectory: dataDirectory,
                                                 unprofiledTypes: Self.unprofiledTypes, measured: measured)
        } catch let error as PlacementError {
            throw Status(.invalidArgument, "cluster/model: \(error)")
        }
        // One-way links: drop the reverse arcs the undirected core link added.
        problem.arcs.removeAll { arc in oneWay.contains(ArcKey(from: arc.to, to: arc.from)) && !oneWay.contains(ArcKey(from: arc.from, to: arc.to)) }
        return (problem, variant == .strict ? .strict : .partial, measured)
    }

    func modelSpec(_ model: Wire.ModelSpec?) throws -> PlacementCore.ModelSpec {
        guard let model else { throw Status(.invalidArgument, "model: missing (give model.name such as llama2-70b, or model.config_json)") }
        do {
            if !model.configJSON.isEmpty {
                return try .fromConfig(data: Data(model.configJSON.utf8), source: "model.config_json",
                                       defaultProfile: model.name.isEmpty ? "custom" : model.name)
            }
            guard !model.name.isEmpty, !model.name.hasSuffix(".json") else {
                throw Status(.invalidArgument, "model.name: give a known model (llama2-70b, llama1-30b) or send the config in model.config_json")
            }
            return try .resolve(model.name)
        } catch let error as PlacementError {
            throw Status(.invalidArgument, "model: \(error)")
        }
    }

    struct ArcKey: Hashable {
        var from: PlacementCore.Endpoint
        var to: PlacementCore.Endpoint
    }

    /// A node's own timings, under the machine type made for it alone.
    struct Timings { var type: String; var field: String; var profile: Wire.MeasuredProfile }

    /// The cluster, the directed (from, to) pairs of its one-way links, and the measured profiles by type.
    func cluster(_ wire: Wire.Cluster?) throws -> (PlacementCore.Cluster, Set<ArcKey>, [String: Timings]) {
        guard let wire else { throw Status(.invalidArgument, "cluster: missing") }
        if wire.nodes.isEmpty {
            guard !wire.fileText.isEmpty else { throw Status(.invalidArgument, "cluster: give nodes and links, or file_text with a cluster file") }
            return (try clusterFile(wire), [], [:])
        }
        return try structured(wire)
    }

    func clusterFile(_ wire: Wire.Cluster) throws -> PlacementCore.Cluster {
        let text = wire.fileText
        let name = wire.name.isEmpty ? "cluster" : wire.name
        var format = wire.fileFormat
        if format == .detect {
            let start = text.drop { $0.isWhitespace }.first
            format = start == "{" ? .json : (start == "[" || start == "#" || start == ";" ? .helixIni : .yaml)
        }
        do {
            switch format {
            case .json:
                return try ClusterJSON.parse(Data(text.utf8), path: "cluster.file_text", defaultName: name)
            case .helixIni:
                return try HelixClusterImport.parse(text: text, source: "cluster.file_text", name: name, machineTypes: try machineTypes())
            case .yaml, .detect:
                throw Status(.invalidArgument, "cluster.file_format: YAML clusters are not supported yet; send our JSON format or a Helix .ini")
            }
        } catch let error as PlacementError {
            throw Status(.invalidArgument, "\(error)")
        }
    }

    /// Helix machine profiles from the shared data, else the built-in ones (the same values).
    func machineTypes() throws -> [String: MachineType] {
        let path = dataDirectory + "/helix/clusters/machine_profiles.ini"
        return FileManager.default.fileExists(atPath: path) ? try HelixClusterImport.loadMachineTypes(path: path) : MachineType.builtin
    }

    func structured(_ wire: Wire.Cluster) throws -> (PlacementCore.Cluster, Set<ArcKey>, [String: Timings]) {
        let known = try machineTypes()
        var types: [String: MachineType] = [:]
        var timings: [String: Timings] = [:]
        var nodes: [ComputeNode] = []
        var index: [String: Int] = [:]
        for (i, node) in wire.nodes.enumerated() {
            let field = "cluster.nodes[\(i)]"
            let name = node.name.isEmpty ? "\(i)" : node.name
            guard !["source", "sink"].contains(name) else { throw Status(.invalidArgument, "\(field).name: '\(name)' is reserved for the link endpoints") }
            guard index[name] == nil else { throw Status(.invalidArgument, "\(field).name: duplicate node name '\(name)'") }
            index[name] = i
            var machine = try machineType(node, field: field, known: known)
            if let measured = node.measured {
                // Unlike workers of one kind (thread counts, layer limits) are unlike types.
                machine.name = "\(machine.name)@\(name)"
                timings[machine.name] = Timings(type: machine.name, field: "\(field).measured", profile: measured)
            }
            if let other = types[machine.name], other != machine {
                throw Status(.invalidArgument, "\(field): nodes of type \(machine.name) must agree on memory and NIC speeds (this one differs from an earlier one)")
            }
            types[machine.name] = machine
            nodes.append(ComputeNode(name: name, type: machine.name, region: node.region.isEmpty ? nil : node.region))
        }
        var links: [Link] = []
        var oneWay: Set<ArcKey> = []
        for (k, link) in wire.links.enumerated() {
            func endpoint(_ text: String, _ field: String) throws -> PlacementCore.Endpoint {
                switch text {
                case "source": return .source
                case "sink": return .sink
                default:
                    guard let i = index[text] else {
                        throw Status(.invalidArgument, "cluster.links[\(k)].\(field): no node named '\(text)' (use a node name, 'source' or 'sink')")
                    }
                    return .node(i)
                }
            }
            let a = try endpoint(link.fromNode, "from_node"), b = try endpoint(link.toNode, "to_node")
            links.append(Link(a, b, bandwidthBytesPerSecond: link.bandwidthBytesPerSecond, latencySeconds: link.latencySeconds))
            if link.oneWay { oneWay.insert(ArcKey(from: a, to: b)) }
        }
        do {
            return (try PlacementCore.Cluster(name: wire.name.isEmpty ? "cluster" : wire.name, machineTypes: types, nodes: nodes, links: links), oneWay, timings)
        } catch let error as PlacementError {
            throw Status(.invalidArgument, "cluster: \(error)")
        }
    }

    /// The machine type of one node: a profile key (case-insensitive; "A100-40G" is "A100"; a count
    /// of 2 or 4 picks "T4x2"-style keys), or "CPU"; the node's memory and NICs override the profile's.
    func machineType(_ node: ClusterNode, field: String, known: [String: MachineType]) throws -> MachineType {
        let keys = known.keys.sorted() + Self.unprofiledTypes.sorted()
        func lookup(_ text: String) -> String? { keys.first { $0.lowercased() == text.lowercased() } }
        let base = node.gpuType.uppercased() == "A100-40G" ? "A100" : node.gpuType
        guard var name = lookup(base) else {
            throw Status(.invalidArgument, "\(field).gpu_type: unknown GPU type '\(node.gpuType)'; known: \(keys.joined(separator: ", "))")
        }
        if node.gpuCount > 1 && !Self.unprofiledTypes.contains(name) {
            guard let multi = lookup("\(name)x\(node.gpuCount)") else {
                throw Status(.invalidArgument, "\(field).gpu_count: no profile for \(node.gpuCount) x \(name); known: \(keys.joined(separator: ", "))")
            }
            name = multi
        }
        var machine = known[name] ?? MachineType(name: name, vramBytes: 0, nicInBytesPerSecond: 1e10, nicOutBytesPerSecond: 1e10)
        if node.gpuMemoryBytes > 0 { machine.vramBytes = Double(node.gpuMemoryBytes) * Double(max(1, node.gpuCount)) }
        for (value, path) in [(node.nicInBytesPerSecond, "nic_in_bytes_per_second"), (node.nicOutBytesPerSecond, "nic_out_bytes_per_second")] {
            guard value >= 0, value.isFinite else { throw Status(.invalidArgument, "\(field).\(path): must be zero (the profile's) or a positive number") }
        }
        if node.nicInBytesPerSecond > 0 { machine.nicInBytesPerSecond = node.nicInBytesPerSecond }
        if node.nicOutBytesPerSecond > 0 { machine.nicOutBytesPerSecond = node.nicOutBytesPerSecond }
        return machine
    }

    /// A wire measured profile as placement's GPU profile.
    static func profile(_ wire: Wire.MeasuredProfile, type: String, field: String, model: PlacementCore.ModelSpec) throws -> GPUProfile {
        func points(_ list: [Wire.LatencyPoint]) -> [(tokens: Int, seconds: Double)] { list.map { (Int($0.tokens), $0.seconds) } }
        do {
            return try .measured(type: type, prompt: points(wire.prompt), decode: points(wire.decode), maxLayers: Int(wire.maxLayers),
                                 kvEntriesAtMax: Int(clamping: wire.kvCapacityEntries), model: model)
        } catch let error as PlacementError {
            throw Status(.invalidArgument, "\(field): \(error)")
        }
    }

    /// A layout by node index or name, or a layout file's text (Helix .ini or our JSON).
    func placement(_ layout: Layout?, problem: PlacementProblem) throws -> Placement {
        guard let layout, !(layout.ranges.isEmpty && layout.fileText.isEmpty) else {
            throw Status(.invalidArgument, "layout: missing (give ranges, or file_text with a layout file)")
        }
        let count = problem.nodes.count
        var placement = Placement(ranges: Array(repeating: nil, count: count))
        do {
            if layout.ranges.isEmpty {
                let json = layout.fileText.drop { $0.isWhitespace }.first == "{"
                placement = try LayoutFile.parse(layout.fileText, source: "layout.file_text", json: json, nodeCount: count)
            } else {
                for (k, range) in layout.ranges.enumerated() {
                    let i: Int
                    if range.nodeName.isEmpty {
                        i = Int(range.node)
                    } else {
                        guard let named = problem.nodes.firstIndex(where: { $0.name == range.nodeName }) else {
                            throw Status(.invalidArgument, "layout.ranges[\(k)].node_name: no node named '\(range.nodeName)'")
                        }
                        i = named
                    }
                    guard i < count else { throw Status(.invalidArgument, "layout.ranges[\(k)].node: \(i) is not in the cluster's 0..<\(count)") }
                    guard placement.ranges[i] == nil else { throw Status(.invalidArgument, "layout.ranges[\(k)]: node \(i) has a range already") }
                    placement.ranges[i] = LayerRange(start: Int(range.start), end: Int(range.end))
                }
            }
            try placement.validate(for: problem)
        } catch let error as PlacementError {
            throw Status(.invalidArgument, "layout: \(error)")
        }
        return placement
    }
}
