import ArgumentParser
import CircuitCore
import CircuitLearning
import Foundation
import Tensor

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train the learned circuit optimizer (GNN policy, PPO) and write a checkpoint.")

    @Option(name: .long, help: "Gate set (only nam).") var gateSet: String = "nam"
    @Option(name: .long, help: "Folder of OpenQASM 2.0 training circuits.") var circuits: String
    @Option(name: .long, help: "Only these circuits of the folder (comma-separated names without .qasm).") var only: String?
    @Option(name: .long, help: "Minutes of training.") var minutes: Double
    @Option(name: .shortAndLong, help: "Checkpoint to write (rewritten after every iteration).") var output: String
    @Flag(name: .long, help: "Continue from the weights in --output.") var resume = false
    @Option(name: .long, help: "Rule file (default: the shipped Nam rules).") var rules: String?
    @Option(name: .long, help: "Random seed (training repeats exactly given the seed and the iteration count).") var seed: UInt64 = 1
    @Option(name: .long, help: "Hidden width of the network.") var hidden: Int = 64
    @Option(name: .long, help: "Message-passing layers.") var layers: Int = 4
    @Option(name: .long, help: "Episodes per iteration (split over both cores).") var episodes: Int = 32

    func validate() throws {
        guard gateSet == "nam" else { throw ValidationError("--gate-set: only 'nam' is supported") }
        guard minutes > 0, minutes.isFinite else { throw ValidationError("--minutes must be a positive number") }
        guard (8...512).contains(hidden) else { throw ValidationError("--hidden must be 8...512") }
        guard (1...8).contains(layers) else { throw ValidationError("--layers must be 1...8") }
        guard (2...4096).contains(episodes) else { throw ValidationError("--episodes must be 2...4096") }
    }

    func run() throws {
        let ruleSet = try CircuitSources.rules(rules)
        let training = try loadCircuits()
        var checkpoint: Checkpoint
        if resume {
            do { checkpoint = try Checkpoint.load(output, rules: ruleSet) } catch { throw CircuitCLIError("--resume: \(error)") }
        } else {
            let model = QuarlModel(config: ModelConfig(rules: ruleSet.rules.count, hidden: hidden, layers: layers), seed: seed)
            checkpoint = Checkpoint(model: model, rules: ruleSet, trainedSeconds: 0, iterations: 0)
        }
        say("training \(checkpoint.model.parameters.scalarCount) weights on \(training.map(\.name).joined(separator: ", ")) "
              + "for \(minutes) min (\(ruleSet.rules.count) rules, BLAS \(BLASThreads.coreName))")
        let priorSeconds = checkpoint.trainedSeconds
        var trainer = Trainer(model: checkpoint.model, rules: ruleSet, circuits: training, seed: seed &+ UInt64(checkpoint.iterations))
        trainer.episodesPerIteration = episodes
        let start = Date()
        let deadline = Deadline(seconds: minutes * 60)
        while !deadline.expired {
            let p = trainer.iterate(deadline: deadline)
            checkpoint.model = trainer.model
            checkpoint.iterations += 1
            checkpoint.trainedSeconds = priorSeconds + Date().timeIntervalSince(start)
            say(String(format: "[%6.1fs] ", Date().timeIntervalSince(start)) + p.line)
            do { try checkpoint.save(output) } catch { throw CircuitCLIError("cannot write \(output): \(error.localizedDescription)") }
        }
    }

    /// A progress line, written at once (stdout may be a pipe).
    private func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

    private func loadCircuits() throws -> [TrainingCircuit] {
        let wanted = only.map { Set($0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }) }
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: circuits).filter { $0.hasSuffix(".qasm") }.sorted() } catch {
            throw CircuitCLIError("cannot list --circuits \(circuits): \(error.localizedDescription)")
        }
        var out: [TrainingCircuit] = []
        for file in files {
            let name = String(file.dropLast(5))
            if let wanted, !wanted.contains(name) { continue }
            let circuit = try CircuitSources.circuit((circuits as NSString).appendingPathComponent(file))
            // Train where the learned search works: on circuits the passes have already cleaned.
            out.append(TrainingCircuit(name: name, circuit: NamPipeline.run(circuit, deadline: Deadline(seconds: 30))))
        }
        if let wanted {
            let missing = wanted.subtracting(out.map(\.name))
            guard missing.isEmpty else { throw CircuitCLIError("--only: no \(missing.sorted().joined(separator: ", ")) .qasm in \(circuits)") }
        }
        guard !out.isEmpty else { throw CircuitCLIError("no .qasm circuits in \(circuits)") }
        return out
    }
}
