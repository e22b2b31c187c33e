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

    func run() async throws {
        let ruleSet: RuleSet
        if let rules {
            do { ruleSet = try RuleSet.load(rules) } catch { throw ValidationError("--rules \(rules): \(error)") }
        } else {
            ruleSet = RuleSet.standard(from: URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        }
        let handler = OptimizeHandler(rules: ruleSet)
        try await ServiceMain.run(.circuit, options: options) { host in handler.register(on: host) }
    }
}
