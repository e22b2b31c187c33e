import Foundation

/// An SVG picture of a placement: one bar per node over the layer axis, coloured by GPU type,
/// labelled with the flow through it; the bar's opacity shows how busy the node is (its share of
/// capacity in the flow, or, when given, its simulated utilisation). Grey lines join the stages
/// of the pipelines, as wide as the flow between them.
public enum PlacementDrawing {
    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]

    public static func svg(problem: PlacementProblem, result: SolveResult, utilisation: [Int: Double]? = nil) -> String {
        let L = problem.numLayers
        let left = 150.0, top = 50.0, row = 18.0, width = 800.0
        let scale = width / Double(L)
        let types = Array(Set(problem.nodes.map(\.type))).sorted()
        let height = top + row * Double(problem.nodes.count) + 60
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(left + width + 40))" height="\(Int(height))" font-family="sans-serif" font-size="11">
        <text x="10" y="20" font-size="14">\(problem.clusterName) · \(problem.model.name) · \(result.method.rawValue) (\(result.connectivity.rawValue)): \(String(format: "%.1f", result.objective)) tokens/s, bound \(String(format: "%.1f", result.upperBound))</text>

        """
        for l in stride(from: 0, through: L, by: 10) {
            let x = left + Double(l) * scale
            out += "<line x1=\"\(x)\" y1=\"\(top - 5)\" x2=\"\(x)\" y2=\"\(top + row * Double(problem.nodes.count))\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(x - 6)\" y=\"\(top - 10)\">\(l)</text>\n"
        }
        for (i, node) in problem.nodes.enumerated() {
            let y = top + Double(i) * row
            out += "<text x=\"10\" y=\"\(y + 12)\">\(i) \(node.type)</text>"
            guard let r = result.placement.ranges[i] else { continue }
            let color = palette[(types.firstIndex(of: node.type) ?? 0) % palette.count]
            let capacity = node.throughput(layers: r.count)
            let busy = utilisation.map { $0[i] ?? 0 } ?? (capacity > 0 ? min(1, result.flows.nodeFlows[i] / capacity) : 0)
            out += "<rect x=\"\(left + Double(r.start) * scale)\" y=\"\(y + 2)\" width=\"\(Double(r.count) * scale)\" height=\"\(row - 4)\" fill=\"\(color)\" fill-opacity=\"\(String(format: "%.2f", 0.25 + 0.75 * busy))\" stroke=\"\(color)\"/>"
            let label = String(format: "%.0f / %.0f tok/s", result.flows.nodeFlows[i], capacity) + (utilisation != nil ? String(format: ", busy %.0f%%", busy * 100) : "")
            out += "<text x=\"\(left + Double(r.end) * scale + 4)\" y=\"\(y + 12)\">\(label)</text>\n"
        }
        let widest = result.flows.arcFlows.map(\.tokensPerSecond).max() ?? 1
        for arc in result.flows.arcFlows {
            guard let i = Int(arc.from), let j = Int(arc.to), let a = result.placement.ranges[i], result.placement.ranges[j] != nil else { continue }
            let x = left + Double(a.end) * scale
            let y1 = top + Double(i) * row + row / 2, y2 = top + Double(j) * row + row / 2
            out += "<line x1=\"\(x)\" y1=\"\(y1)\" x2=\"\(x)\" y2=\"\(y2)\" stroke=\"#555\" stroke-opacity=\"0.6\" stroke-width=\"\(String(format: "%.1f", 0.5 + 3.5 * arc.tokensPerSecond / widest))\"/>\n"
        }
        for (t, type) in types.enumerated() {
            let x = left + Double(t) * 90
            out += "<rect x=\"\(x)\" y=\"\(height - 30)\" width=\"12\" height=\"12\" fill=\"\(palette[t % palette.count])\"/><text x=\"\(x + 16)\" y=\"\(height - 20)\">\(type)</text>"
        }
        return out + "\n</svg>\n"
    }
}
