import CircuitCore
import CircuitLearning
import Foundation
import ServiceKit

/// circuit/Optimize over CircuitCore: progress items, then one verified result.
struct OptimizeHandler: Sendable {
    let rules: RuleSet
    /// The trained policy's search, when the service has a checkpoint for its rules.
    let learned: LearnedSearch?
    /// Optimizations run here, at most `--max-jobs` at once.
    let pool: WorkPool
    /// The largest circuit accepted: gates after parsing, and QASM text.
    var maxGates = 200_000
    var maxQASMBytes = 16 << 20
    /// Budget when a request gives none (greedy passes), and the most a request may ask for.
    var greedyBudgetSeconds = 10.0
    var budgetCap = BudgetCap(maxSeconds: 600, flag: "--max-budget-seconds")
    let tally = StatTotals(["optimizations", "invalid_requests", "gates_removed", "optimize_seconds", "circuits_too_large", "budgets_refused"])

    func register(on host: ServiceHost) {
        host.server.stream(Methods.Circuit.optimize.name, OptimizeRequest.self, OptimizeEvent.self) { request, context, writer in
            do {
                try await optimize(request, context: context, writer: writer)
                tally.add("optimizations")
            } catch let status as Status where status.code == .invalidArgument {
                tally.add("invalid_requests")
                throw status
            }
        }
        host.addStats { [tally, pool] in tally.stats + pool.stats }
    }

    func optimize(_ request: OptimizeRequest, context: CallContext, writer: TypedStreamWriter<OptimizeEvent>) async throws {
        guard request.budgetSeconds >= 0, request.budgetSeconds.isFinite else {
            throw Status(.invalidArgument, "budget_seconds: must be zero (greedy passes only) or a positive number")
        }
        do { try budgetCap.check(request.budgetSeconds, field: "budget_seconds") } catch {
            tally.add("budgets_refused")
            throw error
        }
        guard request.qasm.utf8.count <= maxQASMBytes else {
            tally.add("circuits_too_large")
            throw Status(.resourceExhausted, "qasm: \(request.qasm.utf8.count) bytes, over the \(maxQASMBytes) this service takes (--max-gates / LATTICE_MAX_GATES limits circuits)")
        }
        let circuit: Circuit
        do { circuit = try QASMParser.parse(request.qasm) } catch { throw Status(.invalidArgument, "qasm: \(error)") }
        guard circuit.gates.count <= maxGates else {
            tally.add("circuits_too_large")
            throw Status(.resourceExhausted, "qasm: \(circuit.gates.count) gates, over the \(maxGates) this service optimizes (--max-gates / LATTICE_MAX_GATES)")
        }
        var options = OptimizeOptions()
        options.gateSet = OptimizeAdapter.gateSet(request.gateSet)
        options.cost = OptimizeAdapter.cost(request.cost)
        // Budget 0 means the greedy passes only, which stop by themselves (capped for huge inputs).
        let method = request.budgetSeconds == 0 && request.method.isEmpty ? .greedy : try OptimizeAdapter.method(request.method)
        options.method = method
        options.budget = budget(request.budgetSeconds == 0 ? greedyBudgetSeconds : request.budgetSeconds, context: context)
        options.rules = method == .passes ? nil : rules
        if method == .learned {
            guard let learned else { throw Status(.invalidArgument, "method: 'learned' needs a checkpoint for this service's rules; start it with --checkpoint FILE") }
            options.learned = learned
        }
        let settings = options

        // The optimizer reports from its own thread; the newest reports wait here for the stream.
        let (reports, sink) = AsyncStream.makeStream(of: Wire.OptimizeProgress.self, bufferingPolicy: .bufferingNewest(32))
        let forward = Task {
            for await report in reports { try await writer.send(OptimizeEvent(event: .progress(report))) }
        }
        let result: CircuitCore.OptimizeResult
        do {
            result = try await OffLoop.run(in: pool, for: context.clientKeyID) { flag in
                try Optimizer.optimize(circuit, options: settings, progress: { sink.yield(OptimizeAdapter.progress($0)) }, cancelled: { flag.isSet })
            }
        } catch let error as OptimizeError {
            sink.finish()
            forward.cancel()
            throw Status(.invalidArgument, "gate_set: \(error)")
        } catch {
            sink.finish()
            forward.cancel()
            throw error
        }
        sink.finish()
        tally.add("gates_removed", Double(result.gatesBefore - result.gatesAfter))
        tally.add("optimize_seconds", result.seconds)
        try await forward.value
        try Task.checkCancellation()
        try await writer.send(OptimizeEvent(event: .result(OptimizeAdapter.result(result, qubits: circuit.qubitCount, method: method))))
    }

    /// The budget (already within the cap), cut so that the answer leaves before the call's deadline.
    func budget(_ requested: Double, context: CallContext) -> Double {
        var budget = min(requested, budgetCap.maxSeconds)
        if let deadline = context.deadline {
            let left = ContinuousClock.now.duration(to: deadline)
            let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) * 1e-18
            budget = min(budget, max(0, seconds * 0.8 - 0.2))
        }
        return budget
    }
}
