import Foundation

extension OptimizeResult {
    /// A JSON object with counts, costs, time and verdict (and the QASM when `includeQASM`).
    public func json(includeQASM: Bool) -> String {
        var obj: [String: Any] = [
            "gates_before": gatesBefore, "gates_after": gatesAfter,
            "cost_before": costBefore, "cost_after": costAfter,
            "counts_before": countsBefore, "counts_after": countsAfter,
            "seconds": (seconds * 1000).rounded() / 1000,
            "verified": verdict.isEquivalent, "verdict": verdict.description,
        ]
        if includeQASM { obj["qasm"] = qasm }
        guard let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
