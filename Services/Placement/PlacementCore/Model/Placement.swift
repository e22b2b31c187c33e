import Foundation

/// Layers [start, end) held by one node; end is exclusive.
public struct LayerRange: Sendable, Hashable, Codable {
    public var start: Int
    public var end: Int
    public var count: Int { end - start }

    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }
}

/// A placement: a layer range (or nothing) for every compute node, by node index.
public struct Placement: Sendable, Hashable {
    public var ranges: [LayerRange?]

    public init(ranges: [LayerRange?]) { self.ranges = ranges }

    /// Checks the placement against the problem: ranges inside the model, within each node's memory.
    public func validate(for problem: PlacementProblem) throws {
        guard ranges.count == problem.nodes.count else {
            throw PlacementError(section: "placement", "has \(ranges.count) nodes but the cluster has \(problem.nodes.count)")
        }
        for (i, range) in ranges.enumerated() {
            guard let range else { continue }
            guard range.start >= 0, range.end <= problem.numLayers, range.count >= 1 else {
                throw PlacementError(section: "placement", field: "node \(i)", "range [\(range.start), \(range.end)) is outside 0..<\(problem.numLayers) or empty")
            }
            guard range.count <= problem.nodes[i].maxLayers else {
                throw PlacementError(section: "placement", field: "node \(i)",
                                     "holds \(range.count) layers but a \(problem.nodes[i].type) holds at most \(problem.nodes[i].maxLayers)")
            }
        }
    }
}

/// Layout files: the artifact's `[Solution] compute_node_<i+offset>=[layers]` ini, or our JSON
/// `{"placement": [{"node": i, "start": s, "end": e}]}` (also what `lattice plan --json` prints).
public enum LayoutFile {
    public static func load(path: String, nodeCount: Int) throws -> Placement {
        if path.hasSuffix(".json") { return try loadJSON(path: path, nodeCount: nodeCount) }
        let ini = try IniFile(path: path)
        let offset = ini.section("Settings")?.value("offset").flatMap(Int.init) ?? 0
        guard let solution = ini.section("Solution") else { throw PlacementError(file: path, section: "Solution", "missing section") }
        var ranges = [LayerRange?](repeating: nil, count: nodeCount)
        for entry in solution.entries {
            guard entry.key.hasPrefix("compute_node_"), let raw = Int(entry.key.dropFirst("compute_node_".count)) else {
                throw PlacementError(file: path, section: "Solution", field: entry.key, "expected compute_node_<index>")
            }
            let i = raw - offset
            guard (0..<nodeCount).contains(i) else {
                throw PlacementError(file: path, section: "Solution", field: entry.key, "node \(i) (after offset \(offset)) is not in the cluster's 0..<\(nodeCount)")
            }
            guard let items = PythonList.parse(entry.value), !items.isEmpty else {
                throw PlacementError(file: path, section: "Solution", field: entry.key, "expected a non-empty list of layer indices")
            }
            let layers = items.compactMap { Int($0) }
            guard layers.count == items.count, let lo = layers.min(), let hi = layers.max(), hi - lo + 1 == layers.count,
                  Set(layers).count == layers.count else {
                throw PlacementError(file: path, section: "Solution", field: entry.key, "layers must be distinct, contiguous integers")
            }
            ranges[i] = LayerRange(start: lo, end: hi + 1)
        }
        return Placement(ranges: ranges)
    }

    struct JSONLayout: Codable {
        struct Entry: Codable { var node: Int; var start: Int; var end: Int }
        var placement: [Entry]
    }

    static func loadJSON(path: String, nodeCount: Int) throws -> Placement {
        guard let data = FileManager.default.contents(atPath: path) else { throw PlacementError(file: path, "cannot read the file (does it exist?)") }
        let layout: JSONLayout
        do { layout = try JSONDecoder().decode(JSONLayout.self, from: data) } catch {
            throw PlacementError(file: path, field: "placement", "expected {\"placement\": [{\"node\", \"start\", \"end\"}]}: \(error)")
        }
        var ranges = [LayerRange?](repeating: nil, count: nodeCount)
        for (k, entry) in layout.placement.enumerated() {
            guard (0..<nodeCount).contains(entry.node) else {
                throw PlacementError(file: path, section: "placement[\(k)]", field: "node", "node \(entry.node) is not in 0..<\(nodeCount)")
            }
            ranges[entry.node] = LayerRange(start: entry.start, end: entry.end)
        }
        return Placement(ranges: ranges)
    }
}
