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

    func run() async throws {
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
        let handler = OptimizeHandler(rules: ruleSet, learned: learned)
        try await ServiceMain.run(.circuit, options: options) { host in handler.register(on: host) }
    }
}
