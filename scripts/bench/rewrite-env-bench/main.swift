import CircuitCore
import CircuitLearning
import DeterministicRandom
import Foundation
import Tensor

// Step cost of the rewrite environment (not a test): a seeded random walk of "which rules apply at gate g"
// (the mask) and "apply rule r at g", timed per step; given a checkpoint, also a learned move.
// Usage: rewrite-env-bench CIRCUIT.qasm RULES [STEPS [CHECKPOINT]]
let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write("usage: rewrite-env-bench CIRCUIT.qasm RULES [STEPS [CHECKPOINT]]\n".data(using: .utf8)!)
    exit(2)
}
let steps = args.count > 3 ? Int(args[3]) ?? 2000 : 2000
let circuit: Circuit
let rules: RuleSet
do {
    circuit = Decompose.toNam(try QASMParser.parse(String(contentsOfFile: args[1], encoding: .utf8)))
    rules = try RuleSet.load(args[2])
} catch {
    FileHandle.standardError.write("rewrite-env-bench: \(error)\n".data(using: .utf8)!)
    exit(1)
}

func micros(_ body: () -> Void) -> Double {
    let t = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - t) / 1000
}

func percentile(_ xs: [Double], _ p: Double) -> Double { xs.isEmpty ? .nan : xs.sorted()[min(xs.count - 1, Int(Double(xs.count) * p))] }
func median(_ xs: [Double]) -> Double { percentile(xs, 0.5) }

struct Timings {
    var mask: [Double] = []
    var apply: [Double] = []
    var step: [Double] = []
    var applied = 0
    var finalGates = 0
    func row(_ name: String) -> String {
        Timings.columns([name, String(format: "%.1f", median(mask)), String(format: "%.1f", median(apply)),
                         String(format: "%.1f", median(step)), String(format: "%.1f", percentile(step, 0.9)), String(format: "%.1f", percentile(step, 0.99)),
                         "\(applied)", "\(finalGates)"])
    }
    static func columns(_ c: [String]) -> String {
        c[0].padding(toLength: 36, withPad: " ", startingAt: 0) + c.dropFirst().map { String(repeating: " ", count: max(0, 10 - $0.count)) + $0 }.joined()
    }
}

/// The walk: a random live gate, its matches, and (when any) a random one of them applied.
/// Choices depend only on the seed and the match lists, so equal match lists give equal walks.
func walkEngine(perRule: Bool) -> Timings {
    let engine = RewriteEngine(rules: rules.rules)
    var dag = CircuitDAG(circuit)
    var rng = SplitMix64(seed: 7)
    var t = Timings()
    for _ in 0..<steps {
        var g = Int(rng.next() % UInt64(dag.nodes.count))
        while !dag.isAlive(g) { g = Int(rng.next() % UInt64(dag.nodes.count)) }
        var ms: [Match] = []
        let mask = micros {
            let positions = RewriteEngine.positions(dag)
            ms = perRule ? matchRuleByRule(engine, g, dag, positions) : engine.matches(at: g, in: dag, positions: positions)
        }
        t.mask.append(mask)
        guard !ms.isEmpty else { continue }
        let m = pick(ms, rules: engine.rules, grown: dag.liveCount > circuit.gates.count * 11 / 10, &rng)
        let apply = micros {
            let created = engine.apply(m, to: &dag)
            var around = Set(created)
            for c in created { for p in dag.nodes[c].prev where p >= 0 { around.insert(p) } }
            precondition(around.count >= created.count)
        }
        t.apply.append(apply)
        t.step.append(mask + apply)
        t.applied += 1
    }
    t.finalGates = dag.liveCount
    return t
}

/// A random match; once the circuit has grown by a tenth, only one that does not grow it (if any), so the walk stays near its size.
func pick(_ ms: [Match], rules: [Rule], grown: Bool, _ rng: inout SplitMix64) -> Match {
    let shrinking = grown ? ms.filter { rules[$0.rule].gain >= 0 } : []
    let pool = shrinking.isEmpty ? ms : shrinking
    return pool[Int(rng.next() % UInt64(pool.count))]
}

/// How matches were found before the rule index: every rule whose source starts with the gate's kind, one by one.
func matchRuleByRule(_ engine: RewriteEngine, _ g: Int, _ dag: CircuitDAG, _ positions: [Int]) -> [Match] {
    engine.rules.indices.compactMap { r in
        engine.rules[r].source.gates[0].kind == dag.gate(g).kind ? engine.match(rule: r, at: g, in: dag, positions: positions) : nil
    }
}

/// The same walk on `RewriteEnvironment`: the same choices wherever it finds the same matches.
func walkEnvironment() -> (Timings, Int) {
    var env = RewriteEnvironment(circuit, rules: rules.rules)
    var rng = SplitMix64(seed: 7)
    var t = Timings()
    for _ in 0..<steps {
        let size = env.dag.nodes.count
        var g = Int(rng.next() % UInt64(size))
        while !env.dag.isAlive(g) { g = Int(rng.next() % UInt64(size)) }
        var ms: [Match] = []
        let mask = micros { ms = env.matches(at: g) }
        t.mask.append(mask)
        guard !ms.isEmpty else { continue }
        let m = pick(ms, rules: env.rules, grown: env.dag.liveCount > circuit.gates.count * 11 / 10, &rng)
        let apply = micros {
            let r = env.apply(m)
            precondition(r.neighbourhood.count >= r.created.count)
        }
        t.apply.append(apply)
        t.step.append(mask + apply)
        t.applied += 1
    }
    t.finalGates = env.dag.liveCount
    return (t, env.relabellings)
}

print("circuit \(args[1].split(separator: "/").last ?? ""): \(circuit.gates.count) gates (Nam), \(rules.rules.count) rules, \(steps) steps")
// Medians, and the step's 90th and 99th percentiles (the machine is shared: the mean is at the mercy of preemption).
print(Timings.columns(["µs, median", "mask", "apply", "step", "step p90", "step p99", "applied", "gates"]))
let (incremental, relabellings) = walkEnvironment()
print(incremental.row("RewriteEnvironment (incremental)"))
print(walkEngine(perRule: false).row("RewriteEngine (index, new positions)"))
print(walkEngine(perRule: true).row("rule by rule, new positions (before)"))
print("RewriteEnvironment relabelled the whole circuit \(relabellings) times (once at the start)")

// Loading the shipped file trusts its checksum; this is what checking every rule exactly costs instead.
var refuted = 0
let verify = micros {
    for r in rules.rules where (try? SymbolicEquivalence.equal(r.source, r.target)) != true { refuted += 1 }
}
print(String(format: "exact symbolic check of all %d rules: %.0f ms (%d refuted)", rules.rules.count, verify / 1000, refuted))

// A learned move with the shipped policy: pick a gate by value, its matches, the policy's logits there,
// apply, and bring the network's view up to date, either incrementally (what the search does) or by
// re-embedding the whole circuit (before). Same seeded walk for both.
if args.count > 4 {
    let checkpoint: Checkpoint
    do { checkpoint = try Checkpoint.load(args[4], rules: rules) } catch {
        FileHandle.standardError.write("rewrite-env-bench: \(error)\n".data(using: .utf8)!)
        exit(1)
    }
    let model = checkpoint.model
    func learnedWalk(incremental: Bool) -> (move: [Double], network: [Double], recomputed: [Double]) {
        var env = RewriteEnvironment(circuit, rules: rules.rules)
        var embeddings = GateEmbeddings(env.dag, model: model)
        var rng = SeededGenerator(seed: 7)
        var move: [Double] = [], network: [Double] = [], recomputed: [Double] = []
        for _ in 0..<min(steps, 500) {
            var picked: Match?
            var refresh = 0.0
            let total = micros {
                guard let g = embeddings.sampleNode(in: env.dag, using: &rng) else { return }
                let ms = env.matches(at: g)
                guard !ms.isEmpty else { return }
                let mask = ActionMask(ms, actions: model.config.actions)
                let logits = embeddings.logits(at: g)
                guard let a = Categorical.sample(logits: logits, mask: mask.allowed.enumerated().map { $0.offset != model.config.nop && $0.element }, using: &rng),
                      let m = mask.matches[a] else { return }
                picked = m
                let rewrite = env.apply(m)
                refresh = micros {
                    if incremental { embeddings.update(after: rewrite, in: env.dag) } else { embeddings = GateEmbeddings(env.dag, model: model) }
                }
            }
            guard picked != nil else { continue }
            move.append(total)
            network.append(refresh)
            recomputed.append(Double(incremental ? embeddings.lastRecomputed : env.dag.liveCount))
        }
        return (move, network, recomputed)
    }
    print("learned move (shipped policy, \(model.config.layers) layers, hidden \(model.config.hidden)), µs median; gates: re-embedded per move")
    print(Timings.columns(["", "move", "re-embed", "move p90", "gates", "moves"]))
    for incremental in [true, false] {
        let w = learnedWalk(incremental: incremental)
        print(Timings.columns([incremental ? "incremental re-embedding" : "whole-circuit re-embedding (before)",
                               String(format: "%.0f", median(w.move)), String(format: "%.0f", median(w.network)),
                               String(format: "%.0f", percentile(w.move, 0.9)), String(format: "%.0f", median(w.recomputed)), "\(w.move.count)"]))
    }
}
