import ArgumentParser
import CircuitCore
import Client
import Foundation
import Wire

/// `lattice optimize --server HOST:PORT`: the circuit sent to a circuit-optimizer-service, printed
/// in the in-process output formats (progress on stderr from the stream).
enum RemoteCircuit {
    static func optimize(_ command: OptimizeCommand, server: String) async throws {
        try RemotePlacement.refuseLocalOnly([(command.rules != nil, "--rules"), (command.noVerify, "--no-verify"),
                                           (command.checkpoint != nil, "--checkpoint"), (command.noRotationMerging, "--no-rotation-merging")])
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
        try OptimizeReport(result, input: input, server: server).emit(output: command.output, json: command.json, cost: command.cost)
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
