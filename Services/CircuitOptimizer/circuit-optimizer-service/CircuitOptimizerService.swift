import CircuitCore
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

    @Option(help: "Optimizations run at once; more are refused (RESOURCE_EXHAUSTED). [env: LATTICE_MAX_JOBS] (default: the number of cores)")
    var maxJobs: Int?

    @Option(help: "Largest circuit optimized, in gates; larger ones are refused (RESOURCE_EXHAUSTED). [env: LATTICE_MAX_GATES] (default: 200000)")
    var maxGates: Int?

    func run() async throws {
        let limit: Int
        do { limit = try WorkPool.limit(flag: maxJobs) } catch { throw ValidationError("\(error)") }
        let gates = maxGates ?? ProcessInfo.processInfo.environment["LATTICE_MAX_GATES"].flatMap { Int($0) } ?? 200_000
        guard gates > 0 else { throw ValidationError("--max-gates / LATTICE_MAX_GATES must be at least 1") }
        let ruleSet: RuleSet
        if let rules {
            do { ruleSet = try RuleSet.load(rules) } catch { throw ValidationError("--rules \(rules): \(error)") }
        } else {
            ruleSet = RuleSet.standard(from: URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        }
        var handler = OptimizeHandler(rules: ruleSet, pool: WorkPool(limit: limit, what: "optimizations", setting: "--max-jobs / LATTICE_MAX_JOBS"))
        handler.maxGates = gates
        try await ServiceMain.run(.circuit, options: options) { host in handler.register(on: host) }
    }
}
