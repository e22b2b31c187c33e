import DeterministicRandom
import Foundation

/// Quartz's RepGen for the Nam gate set: enumerate circuits by size, bucket them by a fingerprint,
/// verify each candidate against its class representative, and extend only representatives.
///
/// Soundness: two circuits join a class only if their unitaries agree up to a global phase at 4 random
/// parameter points (a fast filter) and then exactly, symbolically over the parameters
/// (`SymbolicEquivalence`). Every optimized circuit is verified again as a whole.
public struct RuleGenerator: Sendable {
    public var gates: Int
    public var qubits: Int
    public var params: Int

    public init(gates: Int, qubits: Int, params: Int) {
        self.gates = gates
        self.qubits = qubits
        self.params = params
    }

    public struct Progress: Sendable {
        public var size: Int
        public var candidates: Int
        public var classes: Int
        public var circuits: Int
    }

    var alphabet: [PatternGate] {
        var out: [PatternGate] = []
        for q in 0..<qubits {
            out.append(PatternGate(.h, [q]))
            out.append(PatternGate(.x, [q]))
            for p in 0..<params { out.append(PatternGate(.rz, [q], param: p)) }
            if params >= 2 { out.append(PatternGate(.rz, [q], params: [0, 1])) }
        }
        for a in 0..<qubits { for b in 0..<qubits where a != b { out.append(PatternGate(.cx, [a, b])) } }
        return out
    }

    public func generate(deadline: Deadline = .never, progress: (Progress) -> Void = { _ in }) -> RuleSet {
        let points = (0..<4).map { k -> [Angle] in
            var rng = SplitMix64(seed: 0xface + UInt64(k))
            return (0..<max(params, 1)).map { _ in Angle.radians(rng.nextUniform() * 2 * .pi - .pi) }
        }
        let probe = StateVector.random(qubits: qubits, seed: 11)
        let dual = StateVector.random(qubits: qubits, seed: 12)
        let allQubits = Array(0..<qubits)

        func fingerprint(_ c: RuleCircuit) -> Double {
            var s = probe
            s.run(c.instantiate(qubits: allQubits, params: points[0]))
            let (re, im) = dual.inner(s)
            return (re * re + im * im).squareRoot()
        }
        func columns(_ c: RuleCircuit, _ p: [Angle]) -> [StateVector] {
            (0..<(1 << qubits)).map { j in
                var s = StateVector.basis(qubits: qubits, index: j)
                s.run(c.instantiate(qubits: allQubits, params: p))
                return s
            }
        }
        func equivalent(_ a: RuleCircuit, _ b: RuleCircuit) -> Bool {
            for p in points {
                let ua = columns(a, p), ub = columns(b, p)
                var phase: (Double, Double)? = nil
                for j in 0..<ua.count {
                    let z = ub[j].inner(ua[j])
                    if abs((z.0 * z.0 + z.1 * z.1).squareRoot() - 1) > 1e-9 { return false }
                    if let ph = phase { if abs(ph.0 - z.0) > 1e-9 || abs(ph.1 - z.1) > 1e-9 { return false } } else { phase = z }
                }
            }
            return RuleVerification.refutation(a, b) == nil
        }

        var classes: [[RuleCircuit]] = [[RuleCircuit([])]]
        var buckets: [Int: [Int]] = [:]
        func bucket(_ fp: Double) -> Int { Int((fp * 1e7).rounded()) }
        buckets[bucket(fingerprint(RuleCircuit([])))] = [0]
        var representatives: Set<RuleCircuit> = [RuleCircuit([])]
        var frontier: [RuleCircuit] = [RuleCircuit([])]
        let letters = alphabet

        for size in 1...max(gates, 1) {
            var next: [RuleCircuit] = []
            var candidates = 0
            for r in frontier {
                if deadline.expired { break }
                let nextParam = r.usedParams.count
                for g in letters {
                    // Parameters are used once each, in order (a sum counts as using all its terms).
                    if !g.params.isEmpty && g.params != Array(nextParam..<(nextParam + g.params.count)) { continue }
                    let c = RuleCircuit(r.gates + [g])
                    guard c.canonical == c else { continue }
                    if size > 1 {
                        let suffix = RuleGenerator.prefixParams(RuleCircuit(Array(c.gates.dropFirst())).canonical)
                        guard representatives.contains(suffix) else { continue }
                    }
                    candidates += 1
                    let b = bucket(fingerprint(c))
                    var found = -1
                    for nb in [b, b - 1, b + 1] {
                        for k in buckets[nb] ?? [] where equivalent(classes[k][0], c) { found = k; break }
                        if found >= 0 { break }
                    }
                    if found >= 0 {
                        classes[found].append(c)
                    } else {
                        buckets[b, default: []].append(classes.count)
                        classes.append([c])
                        representatives.insert(c)
                        next.append(c)
                    }
                }
            }
            frontier = next
            progress(Progress(size: size, candidates: candidates, classes: classes.filter { $0.count > 1 }.count,
                              circuits: classes.filter { $0.count > 1 }.reduce(0) { $0 + $1.count }))
        }
        let kept = classes.filter { $0.count > 1 }
        return RuleSet(gateSet: "nam", gates: gates, qubits: qubits, params: params, classes: kept)
    }

    /// Renames parameters in order of first use (p0, p1, ...).
    static func prefixParams(_ c: RuleCircuit) -> RuleCircuit {
        var map: [Int: Int] = [:]
        return RuleCircuit(c.gates.map { g in
            PatternGate(g.kind, g.qubits, params: g.params.map { x in
                let p = map[x] ?? map.count
                map[x] = p
                return p
            })
        })
    }
}
