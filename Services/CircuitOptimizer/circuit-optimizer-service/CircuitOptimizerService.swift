import CircuitCore
import CircuitLearning
import Foundation
import ServiceKit

/// circuit-optimizer-service: OpenQASM 2 in, optimized OpenQASM 2 out.
@main
struct CircuitOptimizerService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuit-optimizer-service", abstract: "Lattice circuit optimizer service: OpenQASM 2 in, optimized OpenQASM 2 out.")
    @OptionGroup var options: ServiceOptions

    @Option(help: "Rule file (default: $LATTICE_RULES or the shipped Nam rules).")
    var rules: String?

    @Option(help: "Checkpoint for method 'learned' (default: $LATTICE_CHECKPOINT or the shipped one, when it fits the rules).")
    var checkpoint: String?

    @Option(help: "Optimizations run at once; more are refused (RESOURCE_EXHAUSTED). [env: LATTICE_MAX_JOBS] (default: the number of cores)")
    var maxJobs: Int?

    @Option(help: "Of those, the most one client (API key, over all its connections) runs at once; the cluster secret is not limited (0 = no limit). [env: LATTICE_MAX_JOBS_PER_CLIENT] (default: 0)")
    var maxJobsPerClient: Int?

    @Option(help: "Largest circuit optimized, in gates; larger ones are refused (RESOURCE_EXHAUSTED). [env: LATTICE_MAX_GATES] (default: 200000)")
    var maxGates: Int?

    @Option(help: "Most seconds of budget one request may ask for; more is refused (RESOURCE_EXHAUSTED), never silently cut.")
    var maxBudgetSeconds = 600.0

    func run() async throws {
        let limit: Int, perClient: Int
        do {
            limit = try WorkPool.limit(flag: maxJobs)
            perClient = try WorkPool.perClientLimit(flag: maxJobsPerClient)
        } catch { throw ValidationError("\(error)") }
        let gates = maxGates ?? ProcessInfo.processInfo.environment["LATTICE_MAX_GATES"].flatMap { Int($0) } ?? 200_000
        guard gates > 0 else { throw ValidationError("--max-gates / LATTICE_MAX_GATES must be at least 1") }
        let ruleSet: RuleSet
        if let rules {
            do { ruleSet = try RuleSet.load(rules) } catch { throw ValidationError("--rules \(rules): \(error)") }
        } else {
            do {
                ruleSet = try RuleSet.standard(from: URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
            } catch { throw ValidationError("\(error)") }
        }
        var learned: LearnedSearch?
        if let checkpoint {
            do { learned = LearnedSearch(checkpoint: try Checkpoint.load(checkpoint, rules: ruleSet), rules: ruleSet) } catch {
                throw ValidationError("--checkpoint \(checkpoint): \(error)")
            }
        } else if let path = Checkpoint.defaultPath(from: URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()) {
            // The shipped checkpoint is optional: without it (or with other rules) only 'learned' is refused.
            learned = (try? Checkpoint.load(path, rules: ruleSet)).map { LearnedSearch(checkpoint: $0, rules: ruleSet) }
        }
        var handler = OptimizeHandler(rules: ruleSet, learned: learned, pool: WorkPool(limit: limit, perClient: perClient, what: "optimizations", setting: "--max-jobs / LATTICE_MAX_JOBS"))
        handler.maxGates = gates
        guard maxBudgetSeconds > 0 else { throw ValidationError("--max-budget-seconds must be positive") }
        handler.budgetCap.maxSeconds = maxBudgetSeconds
        try await ServiceMain.run(.circuit, options: options) { host in handler.register(on: host) }
    }
}
