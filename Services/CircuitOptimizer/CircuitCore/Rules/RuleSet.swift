import Foundation

/// Equivalence classes of small circuits and the rewrite rules they give, stored as a versioned text file:
///
///     lattice-rules 1
///     gate-set nam gates 5 qubits 3 params 2
///     class cx 0 1; cx 0 1 | .
///
/// Every ordered pair (source, target) within a class is a rule; rules that only rename qubits or
/// parameters of another rule, or that share a first or last gate on both sides, are dropped.
public struct RuleSet: Sendable {
    public static let formatVersion = 1

    public var gateSet: String
    public var gates: Int
    public var qubits: Int
    public var params: Int
    public var classes: [[RuleCircuit]]
    public private(set) var rules: [Rule] = []

    public init(gateSet: String, gates: Int, qubits: Int, params: Int, classes: [[RuleCircuit]]) {
        self.gateSet = gateSet
        self.gates = gates
        self.qubits = qubits
        self.params = params
        self.classes = classes
        rules = RuleSet.transformations(classes)
    }

    public var circuitCount: Int { classes.reduce(0) { $0 + $1.count } }

    public var text: String {
        var out = "lattice-rules \(RuleSet.formatVersion)\ngate-set \(gateSet) gates \(gates) qubits \(qubits) params \(params)\n"
        for c in classes { out += "class " + c.map(\.text).joined(separator: " | ") + "\n" }
        return out
    }

    public struct FormatError: Error, CustomStringConvertible, Sendable {
        public var line: Int
        public var message: String
        public var description: String { "rule file line \(line): \(message)" }
    }

    public init(text: String) throws(FormatError) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines[0] == "lattice-rules \(RuleSet.formatVersion)" else {
            throw FormatError(line: 1, message: "expected 'lattice-rules \(RuleSet.formatVersion)': not a rule file of this version; regenerate it with 'lattice rules generate'")
        }
        let head = lines[1].split(separator: " ")
        guard head.count == 8, head[0] == "gate-set", let g = Int(head[3]), let q = Int(head[5]), let m = Int(head[7]) else {
            throw FormatError(line: 2, message: "expected 'gate-set NAME gates N qubits Q params M'")
        }
        var classes: [[RuleCircuit]] = []
        for (i, line) in lines.enumerated().dropFirst(2) where !line.isEmpty {
            guard line.hasPrefix("class ") else { throw FormatError(line: i + 1, message: "expected 'class ...'") }
            var members: [RuleCircuit] = []
            for part in line.dropFirst(6).split(separator: "|") {
                let trimmed = part.trimmingCharacters(in: .whitespaces)
                guard let c = RuleCircuit(text: Substring(trimmed)), c.usedQubits.allSatisfy({ $0 < q }) else {
                    throw FormatError(line: i + 1, message: "cannot read circuit '\(trimmed)'")
                }
                members.append(c)
            }
            classes.append(members)
        }
        self.init(gateSet: String(head[1]), gates: g, qubits: q, params: m, classes: classes)
    }

    public static func load(_ path: String) throws -> RuleSet {
        try RuleSet(text: String(contentsOfFile: path, encoding: .utf8))
    }

    public func save(_ path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func transformations(_ classes: [[RuleCircuit]]) -> [Rule] {
        var seen = Set<String>()
        var out: [Rule] = []
        for members in classes where members.count > 1 {
            // A source must be one piece linked by wires, or it could never be matched from one gate.
            // Sums of parameters in a source must be fixed by single-parameter gates of that source.
            for s in members where MatchPlan(s) != nil && s.usedParams == Set(s.gates.filter { $0.params.count == 1 }.flatMap(\.params)) {
                for t in members where t != s {
                    guard t.usedQubits.isSubset(of: s.usedQubits), t.usedParams.isSubset(of: s.usedParams) else { continue }
                    // A gate that can start (or end) both sides makes the rule an instance of a smaller one.
                    if !s.starts.isDisjoint(with: t.starts) || !s.ends.isDisjoint(with: t.ends) { continue }
                    let key = canonicalKey(s, t)
                    if seen.insert(key).inserted { out.append(Rule(source: s, target: t)) }
                }
            }
        }
        // Most reducing first: greedy tries them in this order.
        return out.sorted { $0.gain > $1.gain }
    }

    /// The smallest text of the rule over all renamings of qubits and parameters.
    static func canonicalKey(_ s: RuleCircuit, _ t: RuleCircuit) -> String {
        let q = (s.usedQubits.union(t.usedQubits).max() ?? -1) + 1
        let m = (s.usedParams.union(t.usedParams).max() ?? -1) + 1
        var best: String? = nil
        for qp in permutations(Array(0..<q)) {
            for pp in permutations(Array(0..<m)) {
                let k = s.renamed(qubits: qp, params: pp).canonical.text + " => " + t.renamed(qubits: qp, params: pp).canonical.text
                if best.map({ k < $0 }) ?? true { best = k }
            }
        }
        return best ?? ""
    }

    static func permutations(_ a: [Int]) -> [[Int]] {
        if a.count <= 1 { return [a] }
        var out: [[Int]] = []
        for (i, x) in a.enumerated() {
            var rest = a
            rest.remove(at: i)
            for p in permutations(rest) { out.append([x] + p) }
        }
        return out
    }
}

extension RuleSet {
    /// The rule file shipped in the source tree (`Services/CircuitOptimizer/rules/nam.rules`), found from
    /// `LATTICE_RULES` or by walking up from `start` (the executable's folder); nil when there is none.
    public static func defaultPath(from start: URL) -> String? {
        if let env = ProcessInfo.processInfo.environment["LATTICE_RULES"], !env.isEmpty { return env }
        var dir = start
        for _ in 0..<8 {
            let candidate = dir.appendingPathComponent("Services/CircuitOptimizer/rules/nam.rules")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// The default rules: the shipped file, or a small set generated on the spot.
    public static func standard(from start: URL) -> RuleSet {
        if let p = defaultPath(from: start), let r = try? RuleSet.load(p) { return r }
        return RuleGenerator(gates: 3, qubits: 3, params: 2).generate()
    }
}
