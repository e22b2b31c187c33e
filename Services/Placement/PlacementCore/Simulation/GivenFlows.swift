import Foundation
import Routing

/// Per-arc flows given to the simulator in place of the max flow it computes (`SimulationConfig.arcFlows`).
public enum GivenFlows {
    /// The "routing_arc_flows" of a JSON file where it has them (`lattice plan --json`, `lattice
    /// score --json`: the flow the plan routes over), else its "arc_flows" (`scripts/helix-sim-flows.py`
    /// output): [{"from": "source"|"sink"|"<node index>", "to": …, "tokens_per_s": x}].
    public static func load(path: String) throws -> [ArcFlow] {
        guard let data = FileManager.default.contents(atPath: path) else { throw PlacementError(file: path, "cannot read the file (does it exist?)") }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let arcs = (object["routing_arc_flows"] ?? object["arc_flows"]) as? [[String: Any]] else {
            throw PlacementError(file: path, "expected a JSON object with \"routing_arc_flows\" or \"arc_flows\": [{\"from\", \"to\", \"tokens_per_s\"}, ...]")
        }
        return try arcs.enumerated().map { i, arc in
            guard let from = arc["from"] as? String, let to = arc["to"] as? String, let flow = arc["tokens_per_s"] as? Double else {
                throw PlacementError(file: path, "arc_flows[\(i)]: needs \"from\" and \"to\" (strings) and \"tokens_per_s\" (a number)")
            }
            return ArcFlow(from: from, to: to, tokensPerSecond: flow)
        }
    }
}

extension Array where Element == ArcFlow {
    /// These per-arc flows in place of `flows`' (the flow value is what leaves the source); throws
    /// on an arc naming a node the cluster lacks or a flow that is not a positive number.
    public func replacing(_ flows: FlowResult, nodeCount: Int) throws -> FlowResult {
        func known(_ name: String, _ end: String) -> Bool { name == end || Int(name).map { (0..<nodeCount).contains($0) } == true }
        for arc in self {
            guard known(arc.from, FlowArc.source), known(arc.to, FlowArc.sink) else {
                throw PlacementError(section: "flows", "arc \(arc.from) -> \(arc.to): ends must be source, sink or a node index 0..<\(nodeCount)")
            }
            guard arc.tokensPerSecond > 0, arc.tokensPerSecond.isFinite else {
                throw PlacementError(section: "flows", "arc \(arc.from) -> \(arc.to): tokens_per_s must be a positive number, not \(arc.tokensPerSecond)")
            }
        }
        var result = flows
        result.arcFlows = self
        result.value = filter { $0.from == FlowArc.source }.reduce(0) { $0 + $1.tokensPerSecond }
        return result
    }
}
