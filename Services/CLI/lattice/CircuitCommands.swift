import ArgumentParser
import CircuitCore
import CircuitLearning
import Foundation

/// A failure while running (bad file, bad circuit): printed as is, without the usage text.
struct CircuitCLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension GateSet: ExpressibleByArgument {}
extension CostKind: ExpressibleByArgument {}
extension OptimizeMethod: ExpressibleByArgument {}

struct OptimizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimize", abstract: "Optimize an OpenQASM 2.0 circuit (verified against the input).")

    @Argument(help: "Input OpenQASM 2.0 file.") var input: String
    @Option(name: .shortAndLong, help: "Write the optimized circuit here (OpenQASM 2.0).") var output: String?
    @Option(name: .long, help: "Output gate set: \(GateSet.allCases.map(\.rawValue).joined(separator: ", ")).") var gateSet: GateSet = .nam
    @Option(name: .long, help: "What to minimise: gates, cx, depth.") var cost: CostKind = .gates
    @Option(name: .long, help: "Seconds for the whole run, verification included.") var budget: Double = 10
    @Option(name: .long, help: "passes, greedy, search or learned (the best-first search and the GNN policy's walks in turns, sharing the best circuit; needs a checkpoint). The default is search at every budget: learned has not beaten it by more than the noise of one run on our loaded 2-core machine: at 60 s per circuit on 25 Nam circuits 29.8% for both (one run, load 30-40; learned smaller on 7, larger on 4) (32.6% against 32.5% in an earlier run), at 10 minutes on vbe_adder_3, gf2^7_mult and gf2^16_mult 32.3% against 31.7% (smaller on two, 3 gates larger on gf2^16_mult); it also needs a checkpoint. See scripts/bench-learned and models/README.md.") var method: OptimizeMethod = .search
    @Option(name: .long, help: "Rule file (default: the shipped Nam rules).") var rules: String?
    @Option(name: .long, help: "Checkpoint for --method learned (default: the shipped one, made by 'lattice train').") var checkpoint: String?
    @Option(name: .long, help: "For --method learned: the non-learned search's share (0-1) of the time when neither it nor the policy's walks are reducing the cost (0: the walks alone; 1: the search until it has searched all it can).") var searchShare: Double = 0.5
    @Flag(name: .long, help: "Leave rotation merging out of the passes (to measure what a search finds without it).") var noRotationMerging = false
    @Flag(name: .long, help: "Print the result as JSON.") var json = false
    @Flag(name: .long, help: "Skip the equivalence check.") var noVerify = false
    @Option(name: .long, help: "Ask a circuit-optimizer-service at HOST:PORT instead of optimizing in-process.") var server: String?

    func validate() throws {
        guard budget >= 0, budget.isFinite else { throw ValidationError("--budget must be a number of seconds >= 0") }
        guard (0...1).contains(searchShare) else { throw ValidationError("--search-share must be between 0 and 1, got \(searchShare)") }
    }

    func run() async throws {
        if let server { return try await RemoteCircuit.optimize(self, server: server) }
        let circuit = try CircuitSources.circuit(input)
        var options = OptimizeOptions()
        options.gateSet = gateSet
        options.cost = cost
        options.budget = budget
        options.method = method
        options.verify = !noVerify
        options.rotationMerging = !noRotationMerging
        if method != .passes { options.rules = try CircuitSources.rules(rules) }
        if method == .learned, let rules = options.rules {
            var learned = LearnedSearch(checkpoint: try CircuitSources.checkpoint(checkpoint, rules: rules), rules: rules)
            learned.searchShare = searchShare
            if !json {
                learned.onFinish = { summary in
                    FileHandle.standardError.write(Data("\nlearned search: \(summary)".utf8))
                }
            }
            options.learned = learned
        }
        let quiet = json
        let result: OptimizeResult
        do {
            result = try Optimizer.optimize(circuit, options: options, progress: { p in
                if !quiet { FileHandle.standardError.write(Data(String(format: "\r[%6.1fs] %@: best %d   ", p.elapsed, p.stage, p.bestCost).utf8)) }
            })
        } catch { throw CircuitCLIError("\(error)") }
        if !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
        try OptimizeReport(result).emit(output: output, json: json, cost: cost)
    }
}

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Generate and inspect verified rewrite-rule sets.",
        subcommands: [RulesGenerateCommand.self, RulesInfoCommand.self])
}

struct RulesGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Generate a rule set (RepGen).")
    @Option(name: .long, help: "Gate set (only nam).") var gateSet: String = "nam"
    @Option(name: .long, help: "Largest circuit size.") var gates: Int = 3
    @Option(name: .long, help: "Qubits.") var qubits: Int = 3
    @Option(name: .long, help: "Symbolic parameters.") var params: Int = 2
    @Option(name: .shortAndLong, help: "Output file.") var output: String

    func validate() throws {
        guard gateSet == "nam" else { throw ValidationError("--gate-set: only 'nam' rules can be generated") }
        guard (1...7).contains(gates) else { throw ValidationError("--gates must be 1...7") }
        guard (1...4).contains(qubits) else { throw ValidationError("--qubits must be 1...4") }
        guard (0...3).contains(params) else { throw ValidationError("--params must be 0...3") }
    }

    func run() throws {
        let start = Date()
        let set = RuleGenerator(gates: gates, qubits: qubits, params: params).generate { p in
            FileHandle.standardError.write(Data(String(format: "[%6.1fs] size %d: %d candidates, %d classes, %d circuits\n",
                                                       Date().timeIntervalSince(start), p.size, p.candidates, p.classes, p.circuits).utf8))
        }
        do { try set.save(output) } catch { throw CircuitCLIError("cannot write \(output): \(error.localizedDescription)") }
        print(RulesInfoCommand.summary(set) + String(format: ", %.1f s", Date().timeIntervalSince(start)))
    }
}

struct RulesInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Summarise a rule file.")
    @Argument(help: "Rule file.") var file: String

    static func summary(_ s: RuleSet) -> String {
        let reducing = s.rules.filter { $0.gain > 0 }.count
        let same = s.rules.filter { $0.gain == 0 }.count
        return "\(s.gateSet) (\(s.gates),\(s.qubits),\(s.params)): \(s.classCount) classes, \(s.circuitCount) circuits, \(s.rules.count) transformations (\(same) size-preserving, \(reducing) reducing, \(s.rules.count - same - reducing) increasing)"
    }

    func run() throws {
        let start = Date()
        let s: RuleSet
        do { s = try RuleSet.load(file) } catch { throw CircuitCLIError("\(file): \(error)") }
        print(Self.summary(s) + String(format: ", loaded in %.3f s", Date().timeIntervalSince(start)))
    }
}
