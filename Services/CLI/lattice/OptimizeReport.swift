import CircuitCore
import Foundation
import Wire

/// What `lattice optimize` prints and writes, the same whether the optimization ran in-process
/// or in a circuit-optimizer-service: one shape, built from either result.
struct OptimizeReport {
    var gatesBefore: Int
    var gatesAfter: Int
    var costBefore: Int
    var costAfter: Int
    var countsBefore: [String: Int]
    var countsAfter: [String: Int]
    var seconds: Double
    var verified: Bool
    var verdict: String
    var qasm: String
    /// Appended to the summary line (the server's address for a remote run).
    var origin = ""

    init(_ result: CircuitCore.OptimizeResult) {
        gatesBefore = result.gatesBefore; gatesAfter = result.gatesAfter
        costBefore = result.costBefore; costAfter = result.costAfter
        countsBefore = result.countsBefore; countsAfter = result.countsAfter
        seconds = result.seconds; verified = result.verdict.isEquivalent; verdict = result.verdict.description
        qasm = result.qasm
    }

    /// The wire result carries no gate totals in the Nam sense (ccz as 13), so they are counted
    /// from the input and the returned QASM.
    init(_ result: Wire.OptimizeResult, input: Circuit, server: String) {
        func counts(_ list: [GateCount]) -> [String: Int] { Dictionary(list.map { ($0.gate, Int($0.count)) }) { first, _ in first } }
        gatesBefore = input.gateCount
        gatesAfter = (try? QASMParser.parse(result.qasm))?.gateCount ?? -1
        costBefore = Int(result.costBefore); costAfter = Int(result.costAfter)
        countsBefore = counts(result.countsBefore); countsAfter = counts(result.countsAfter)
        seconds = result.seconds
        verified = result.verdict == .verifiedExact || result.verdict == .verifiedSimulation
        verdict = result.verdictDetail
        qasm = result.qasm
        origin = " (\(server))"
    }

    /// Writes the QASM to `output` when given, then prints JSON or the human summary (with the
    /// QASM on stdout when it was not written to a file).
    func emit(output: String?, json: Bool, cost: CostKind) throws {
        if let output {
            do { try qasm.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                throw CircuitCLIError("cannot write \(output): \(error.localizedDescription)")
            }
        }
        if json {
            var object: [String: Any] = [
                "gates_before": gatesBefore, "gates_after": gatesAfter, "cost_before": costBefore, "cost_after": costAfter,
                "counts_before": countsBefore, "counts_after": countsAfter,
                "seconds": (seconds * 1000).rounded() / 1000, "verified": verified, "verdict": verdict,
            ]
            if output == nil { object["qasm"] = qasm }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            let costChange = cost == .gates ? "" : ", \(cost.rawValue) \(costBefore) -> \(costAfter)"
            print("gates \(gatesBefore) -> \(gatesAfter)\(costChange), \(String(format: "%.2f", seconds)) s, \(verdict)\(origin)")
            print("before: " + Self.line(countsBefore))
            print("after:  " + Self.line(countsAfter))
            if output == nil { print(qasm, terminator: "") }
        }
    }

    private static func line(_ counts: [String: Int]) -> String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}
