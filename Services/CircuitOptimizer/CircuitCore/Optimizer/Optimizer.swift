import Foundation

/// How hard to try.
public enum OptimizeMethod: String, CaseIterable, Sendable {
    /// Nam-style passes only (rotation merging, Hadamard reduction, cancellation, Toffoli polarity).
    case passes
    /// Passes, then reducing rewrite rules until none applies.
    case greedy
    /// Passes, greedy, then best-first search over rewrites with a cost ceiling until the budget ends.
    case search
    /// Passes, greedy, then the trained policy's search (CircuitLearning), fine-tuned on the circuit.
    case learned
}

/// A search stage driven by a trained policy. It lives in CircuitLearning, which depends on this
/// library, so the optimizer reaches it through this protocol.
public protocol LearnedSearchStage: Sendable {
    func run(_ start: Circuit, cost: CostKind, deadline: Deadline, rotationMerging: Bool,
             improved: (Int) -> Void) -> Circuit
}

public struct OptimizeOptions: Sendable {
    public var gateSet: GateSet = .nam
    public var cost: CostKind = .gates
    /// Seconds for the whole call, verification included (verification is skipped with a verdict when it would not fit).
    public var budget: Double = 10
    public var method: OptimizeMethod = .search
    public var rules: RuleSet? = nil
    public var verify = true
    /// Whether the passes include rotation merging (turned off to measure what a search finds without it).
    public var rotationMerging = true
    /// Needed by `.learned`: the trained policy's search.
    public var learned: (any LearnedSearchStage)? = nil
    public init() {}
}

/// A progress report: the best cost so far and where the optimizer is.
public struct OptimizeProgress: Sendable {
    public var elapsed: Double
    public var bestCost: Int
    public var stage: String
}

public struct OptimizeResult: Sendable {
    public var circuit: Circuit
    public var qasm: String
    public var countsBefore: [String: Int]
    public var countsAfter: [String: Int]
    public var costBefore: Int
    public var costAfter: Int
    /// Gate count in the Nam sense (ccz as 13) before and after.
    public var gatesBefore: Int
    public var gatesAfter: Int
    public var seconds: Double
    public var verdict: Verdict
}

public enum OptimizeError: Error, CustomStringConvertible, Sendable {
    case conversion(GateSetError)
    case noLearnedModel
    public var description: String {
        switch self {
        case .conversion(let e): return e.description
        case .noLearnedModel: return "method 'learned' needs a trained checkpoint (train one with 'lattice train', or pass --checkpoint)"
        }
    }
}

public enum Optimizer {
    /// Optimizes `input` within `options.budget` seconds; `progress` is called from the optimizing thread,
    /// `cancelled` is polled. The returned circuit is the input itself whenever the check refutes a result.
    public static func optimize(_ input: Circuit, options: OptimizeOptions,
                                progress: @Sendable (OptimizeProgress) -> Void = { _ in },
                                cancelled: @escaping @Sendable () -> Bool = { false }) throws(OptimizeError) -> OptimizeResult {
        if options.method == .learned && options.learned == nil { throw .noLearnedModel }
        let start = Deadline.now()
        let checker = EquivalenceChecker()
        let verifySeconds = options.verify ? checker.estimatedSeconds(input, input) : 0
        // Keep room for the final check when the budget allows it.
        // A check that would take most of the budget is skipped (with a verdict saying so) instead.
        let reserve = verifySeconds <= options.budget * 0.4 ? verifySeconds * 1.2 : 0
        let optimizeSeconds = max(0, options.budget - reserve)
        let deadline = Deadline(seconds: optimizeSeconds, cancelled: cancelled)
        let namInput = Decompose.toNam(input)
        let startCost = namInput.cost(options.cost)
        let merging = options.rotationMerging
        func report(_ c: Int, _ stage: String) { progress(OptimizeProgress(elapsed: Deadline.now() - start, bestCost: c, stage: stage)) }
        report(startCost, "start")

        var best = namInput
        if !deadline.expired {
            let piped = NamPipeline.run(input, deadline: deadline, rotationMerging: merging)
            if piped.cost(options.cost) <= best.cost(options.cost) { best = piped }
            report(best.cost(options.cost), "passes")
        }
        if options.method != .passes, let rules = options.rules, !deadline.expired {
            best = Greedy.run(best, rules: rules, cost: options.cost, deadline: deadline, rotationMerging: merging)
            report(best.cost(options.cost), "greedy")
            if options.method == .search && !deadline.expired {
                best = WindowedSearch.run(best, rules: rules, cost: options.cost, deadline: deadline, rotationMerging: merging) { c in report(c, "search") }
            }
            if options.method == .learned, let learned = options.learned, !deadline.expired {
                best = learned.run(best, cost: options.cost, deadline: deadline, rotationMerging: merging) { c in report(c, "learned") }
            }
        }

        let output: Circuit
        do { output = try Decompose.convert(best, to: options.gateSet) } catch { throw .conversion(error) }
        var verdict = Verdict.unverified("verification turned off")
        var final = output
        if options.verify {
            let left = options.budget - (Deadline.now() - start)
            let needed = checker.estimatedSeconds(input, output)
            if needed > max(left, 1) {
                verdict = .unverified(String(format: "the check would take about %.0f s, more than the %.0f s left of the budget", needed, max(left, 0)))
            } else {
                // The path sum (wide circuits) stops at this deadline with an unverified verdict; simulation is
                // bounded by the estimate checked above.
                verdict = checker.check(input, output, deadline: Deadline(seconds: max(left, 1), cancelled: cancelled))
            }
            if verdict.isRefuted {
                // Never hand back a circuit that is known to be wrong.
                do { final = try Decompose.convert(namInput, to: options.gateSet) } catch { throw .conversion(error) }
                verdict = .notEquivalent("optimized circuit failed the check; the input is returned unchanged (\(verdict))")
            }
        }
        report(final.cost(options.cost), "done")
        return OptimizeResult(circuit: final, qasm: QASMPrinter.print(final),
                              countsBefore: input.countsByKind, countsAfter: final.countsByKind,
                              costBefore: input.cost(options.cost), costAfter: final.cost(options.cost),
                              gatesBefore: input.gateCount, gatesAfter: final.gateCount,
                              seconds: Deadline.now() - start, verdict: verdict)
    }
}
