import CircuitCore
import Wire

/// Wire request fields → CircuitCore options, and CircuitCore results → wire messages.
enum OptimizeAdapter {
    static func gateSet(_ set: Wire.GateSet) -> CircuitCore.GateSet {
        switch set {
        case .nam: .nam
        case .ibm: .ibm
        case .ibmU: .ibmU
        case .cliffordT: .cliffordT
        case .rigetti: .rigetti
        }
    }

    static func cost(_ cost: CircuitCost) -> CostKind {
        switch cost {
        case .gates: .gates
        case .cx: .cx
        case .depth: .depth
        }
    }

    /// Empty: the best method; otherwise one of CircuitCore's method names.
    static func method(_ text: String) throws -> OptimizeMethod {
        if text.isEmpty { return .search }
        guard let method = OptimizeMethod(rawValue: text) else {
            throw Status(.invalidArgument, "method: unknown method '\(text)'; use \(OptimizeMethod.allCases.map(\.rawValue).joined(separator: ", ")) or leave it empty for the best")
        }
        return method
    }

    static func counts(_ counts: [String: Int]) -> [GateCount] {
        counts.sorted { $0.key < $1.key }.map { GateCount(gate: $0.key, count: UInt64($0.value)) }
    }

    static func verdict(_ verdict: CircuitCore.Verdict) -> (Wire.OptimizeResult.Verdict, String) {
        switch verdict {
        case .equivalent(let method): (method.hasPrefix("unitary") || method.hasPrefix("path sum") ? .verifiedExact : .verifiedSimulation, verdict.description)
        case .notEquivalent: (.failed, verdict.description)
        case .unverified: (.unverifiedTooWide, verdict.description)
        }
    }

    static func result(_ result: CircuitCore.OptimizeResult, qubits: Int, method: OptimizeMethod) -> Wire.OptimizeResult {
        let (verdict, detail) = verdict(result.verdict)
        return Wire.OptimizeResult(qasm: result.qasm, countsBefore: counts(result.countsBefore), countsAfter: counts(result.countsAfter),
                                   costBefore: Double(result.costBefore), costAfter: Double(result.costAfter), seconds: result.seconds,
                                   verdict: verdict, verdictDetail: detail, qubits: UInt32(qubits), methodUsed: method.rawValue)
    }

    static func progress(_ p: CircuitCore.OptimizeProgress) -> Wire.OptimizeProgress {
        Wire.OptimizeProgress(elapsedSeconds: p.elapsed, bestCost: Double(p.bestCost), currentCost: Double(p.bestCost), phase: p.stage)
    }
}
