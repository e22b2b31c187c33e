import ArgumentParser
import CircuitCore
import Client
import Foundation
import Wire

/// `lattice optimize --server HOST:PORT`: the circuit sent to a circuit-optimizer-service, printed
/// in the in-process output formats (progress on stderr from the stream).
enum RemoteCircuit {
    static func optimize(_ command: OptimizeCommand, server: String) async throws {
        try RemotePlacement.refuseLocalOnly([(command.rules != nil, "--rules"), (command.noVerify, "--no-verify")])
        let text: String
        do { text = try String(contentsOfFile: command.input, encoding: .utf8) } catch {
            throw CircuitCLIError("cannot read \(command.input): \(error.localizedDescription)")
        }
        // Parsed here too for the Nam-sense gate counts of the JSON output (and an early, local error).
        let input: Circuit
        do { input = try QASMParser.parse(text) } catch { throw CircuitCLIError("\(command.input): \(error)") }
        let request = OptimizeRequest(qasm: text, gateSet: gateSet(command.gateSet), cost: cost(command.cost), budgetSeconds: command.budget,
                                      method: command.method.rawValue)
        let quiet = command.json
        let result: Wire.OptimizeResult = try await RemotePlacement.with(server) { client in
            var result: Wire.OptimizeResult?
            for try await event in client.stream(Methods.Circuit.optimize.name, request, as: OptimizeEvent.self, deadline: .seconds(command.budget + 60)) {
                switch event.event {
                case .progress(let p)?:
                    if !quiet { FileHandle.standardError.write(Data(String(format: "\r[%6.1fs] %@: best %d   ", p.elapsedSeconds, p.phase, Int(p.bestCost)).utf8)) }
                case .result(let r)?: result = r
                case nil: break
                }
            }
            guard let result else { throw RemoteError(description: "\(server): circuit/Optimize ended without a result") }
            return result
        }
        if !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
        if let out = command.output {
            do { try result.qasm.write(toFile: out, atomically: true, encoding: .utf8) } catch {
                throw CircuitCLIError("cannot write \(out): \(error.localizedDescription)")
            }
        }
        let output = try? QASMParser.parse(result.qasm)
        let verified = result.verdict == .verifiedExact || result.verdict == .verifiedSimulation
        func counts(_ list: [GateCount]) -> [String: Int] { Dictionary(list.map { ($0.gate, Int($0.count)) }) { a, _ in a } }
        if command.json {
            var object: [String: Any] = [
                "gates_before": input.gateCount, "gates_after": output?.gateCount ?? -1,
                "cost_before": Int(result.costBefore), "cost_after": Int(result.costAfter),
                "counts_before": counts(result.countsBefore), "counts_after": counts(result.countsAfter),
                "seconds": (result.seconds * 1000).rounded() / 1000, "verified": verified, "verdict": result.verdictDetail,
            ]
            if command.output == nil { object["qasm"] = result.qasm }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            let costChange = command.cost == .gates ? "" : ", \(command.cost.rawValue) \(Int(result.costBefore)) -> \(Int(result.costAfter))"
            print("gates \(input.gateCount) -> \(output?.gateCount ?? -1)\(costChange), \(String(format: "%.2f", result.seconds)) s, \(result.verdictDetail) (\(server))")
            print("before: " + result.countsBefore.map { "\($0.gate) \($0.count)" }.joined(separator: ", "))
            print("after:  " + result.countsAfter.map { "\($0.gate) \($0.count)" }.joined(separator: ", "))
            if command.output == nil { print(result.qasm, terminator: "") }
        }
    }

    static func gateSet(_ set: CircuitCore.GateSet) -> Wire.GateSet {
        switch set {
        case .nam: .nam
        case .ibm: .ibm
        case .ibmU: .ibmU
        case .cliffordT: .cliffordT
        case .rigetti: .rigetti
        }
    }

    static func cost(_ cost: CostKind) -> CircuitCost {
        switch cost {
        case .gates: .gates
        case .cx: .cx
        case .depth: .depth
        }
    }
}
