import Foundation

/// The outcome of checking an optimized circuit against its input (equality up to global phase).
public enum Verdict: Equatable, Sendable, CustomStringConvertible {
    case equivalent(method: String)
    case notEquivalent(String)
    case unverified(String)

    public var isEquivalent: Bool { if case .equivalent = self { return true } else { return false } }
    public var isRefuted: Bool { if case .notEquivalent = self { return true } else { return false } }

    public var description: String {
        switch self {
        case .equivalent(let m): return "verified (\(m))"
        case .notEquivalent(let why): return "NOT equivalent: \(why)"
        case .unverified(let why): return "unverified: \(why)"
        }
    }
}

/// Checks two circuits for equality up to global phase by simulation: the full unitary when small, a few
/// random states when up to `maxQubits`; beyond that (or when simulation would be too much work) by an
/// exact path sum (`PathSumCheck`), which either derives the answer or says unverified.
public struct EquivalenceChecker: Sendable {
    public var unitaryQubits = 8
    public var maxQubits = 24
    /// Upper bound on amplitude updates (gates × 2^n summed over both circuits) before giving up as too large.
    public var maxWork: Double = 6e10
    public var tolerance = 1e-7
    public var states = 2

    public init() {}

    /// Amplitude updates per second per core, measured roughly on a release build.
    static let amplitudesPerSecond = 1.5e8

    /// Path-sum seconds per gate (Nam sense) of a and b together. Measured on a release build (2-core machine
    /// under load, session 18): gf2^32_mult's input against its passes output, 13593 + 10493 gates, 0.13 s,
    /// about 5e-6 s a gate; gf2^16_mult 0.06 s for 5884. Four times that, for margin. Circuits the rules do not
    /// reduce run until the deadline instead (mod_adder_1024), so this is only the reservation for ones that do.
    static let pathSumSecondsPerGate = 2e-5

    /// A rough wall-clock estimate of `check`.
    public func estimatedSeconds(_ a: Circuit, _ b: Circuit) -> Double {
        let n = max(a.qubitCount, b.qubitCount)
        // Counted in the Nam sense (ccz as 13): the optimizer reserves time from the input, whose ccz gates
        // come back as cx and rz.
        if usesPathSum(a, b, n) { return Double(a.gateCount + b.gateCount) * EquivalenceChecker.pathSumSecondsPerGate }
        return work(a, b, n) / EquivalenceChecker.amplitudesPerSecond / (n <= unitaryQubits ? 1 : 2)
    }

    func usesPathSum(_ a: Circuit, _ b: Circuit, _ n: Int) -> Bool { n > maxQubits || work(a, b, n) > maxWork }

    func work(_ a: Circuit, _ b: Circuit, _ n: Int) -> Double {
        Double(a.gates.count + b.gates.count) * Double(1 << n) * Double(n <= unitaryQubits ? (1 << n) : states)
    }

    /// `deadline` bounds the path sum (simulation is bounded by `maxWork` instead).
    public func check(_ a: Circuit, _ b: Circuit, deadline: Deadline = Deadline(seconds: 60)) -> Verdict {
        let n = max(a.qubitCount, b.qubitCount)
        guard a.qubitCount == b.qubitCount else { return .notEquivalent("qubit counts differ (\(a.qubitCount) vs \(b.qubitCount))") }
        let fencesA = a.gates.filter { $0.kind == .measure }, fencesB = b.gates.filter { $0.kind == .measure }
        guard fencesA.count == fencesB.count else { return .notEquivalent("measurement counts differ") }
        // Too wide or too large to simulate: the exact path sum instead.
        if usesPathSum(a, b, n) { return PathSumCheck.check(a, b, deadline: deadline) }
        return n <= unitaryQubits ? unitary(a, b, n) : randomStates(a, b, n)
    }

    /// Runs a then b⁻¹ on every basis state; the product must be one phase times the identity.
    private func unitary(_ a: Circuit, _ b: Circuit, _ n: Int) -> Verdict {
        var phase: (Double, Double)? = nil
        for j in 0..<(1 << n) {
            var s = StateVector.basis(qubits: n, index: j)
            s.run(a.gates)
            s.run(b.gates, inverse: true)
            let amp = (s.re[j], s.im[j])
            let mag = (amp.0 * amp.0 + amp.1 * amp.1).squareRoot()
            if abs(mag - 1) > tolerance { return .notEquivalent("basis state \(j) is not mapped back to itself (overlap \(mag))") }
            if let p = phase {
                if abs(p.0 - amp.0) > 1e-6 || abs(p.1 - amp.1) > 1e-6 { return .notEquivalent("relative phase differs on basis state \(j)") }
            } else {
                phase = amp
            }
        }
        return .equivalent(method: "unitary, \(n) qubits")
    }

    /// Simulates both circuits on the same random states (the two on separate cores) and compares.
    private func randomStates(_ a: Circuit, _ b: Circuit, _ n: Int) -> Verdict {
        for k in 0..<states {
            let start = StateVector.random(qubits: n, seed: 0x5eed + UInt64(k))
            let results = ParallelPair.run({ () -> StateVector in var s = start; s.run(a.gates); return s },
                                           { () -> StateVector in var s = start; s.run(b.gates); return s })
            let (re, im) = results.0.inner(results.1)
            let overlap = (re * re + im * im).squareRoot()
            if abs(overlap - 1) > 1e-6 { return .notEquivalent("random state \(k): overlap \(overlap) instead of 1") }
        }
        return .equivalent(method: "\(states) random states, \(n) qubits")
    }
}

/// Runs two closures at once, one on another core and one on the calling thread, and returns both results.
public enum ParallelPair {
    public static func run<A: Sendable, B: Sendable>(_ f: @escaping @Sendable () -> A, _ g: () -> B) -> (A, B) {
        let box = ResultBox<A>()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { box.set(f()) }
        let b = g()
        group.wait()
        // The async block always stores its value before the group is left; recompute only if it somehow did not.
        return (box.value ?? f(), b)
    }
}

final class ResultBox<A>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: A?
    func set(_ v: A) { lock.lock(); stored = v; lock.unlock() }
    var value: A? { lock.lock(); defer { lock.unlock() }; return stored }
}
