import Foundation

/// Equivalence classes of small circuits and the rewrite rules they give, stored as a versioned text file:
///
///     lattice-rules 1
///     gate-set nam gates 5 qubits 3 params 2
///     class cx 0 1; cx 0 1 | .
///     rule cx 0 1; cx 0 1 => .
///
/// Every ordered pair (source, target) within a class is a rule; rules that only rename qubits or
/// parameters of another rule, or that share a first or last gate on both sides, are dropped.
/// The rules are computed once when generating and stored. Loading checks the header's gate set and that
/// every rule (and class, when read) is an exact identity, unless the file's checksum was verified before.
public struct RuleSet: Sendable {
    public static let formatVersion = 1
    /// The most gates a circuit of a rule file may have (generation goes up to 7). Matching walks a
    /// rule's source recursively, one stack frame per gate, so a file's 100,000-gate identity
    /// (valid, e.g. h 0 repeated) would recurse 100,000 deep on a circuit holding that run.
    public static let maxGates = 16

    public var gateSet: String
    public var gates: Int
    public var qubits: Int
    public var params: Int
    /// The classes (empty when loaded with `classes: false`; the counts below stay right).
    public var classes: [[RuleCircuit]]
    public private(set) var rules: [Rule] = []
    public private(set) var classCount: Int
    public private(set) var circuitCount: Int

    public init(gateSet: String, gates: Int, qubits: Int, params: Int, classes: [[RuleCircuit]], rules: [Rule]? = nil) {
        self.gateSet = gateSet
        self.gates = gates
        self.qubits = qubits
        self.params = params
        self.classes = classes
        self.rules = rules ?? RuleSet.transformations(classes)
        classCount = classes.count
        circuitCount = classes.reduce(0) { $0 + $1.count }
    }

    public var text: String {
        var out = "lattice-rules \(RuleSet.formatVersion)\ngate-set \(gateSet) gates \(gates) qubits \(qubits) params \(params)\n"
        for c in classes { out += "class " + c.map(\.text).joined(separator: " | ") + "\n" }
        for r in rules { out += "rule " + r.source.text + " => " + r.target.text + "\n" }
        return out
    }

    public struct FormatError: Error, CustomStringConvertible, Sendable {
        public var line: Int
        public var message: String
        public var description: String { "rule file line \(line): \(message)" }
    }

    /// Reads a rule file; with `classes: false` the class lines are only counted (loading the rules stays fast).
    public init(text: String, classes readClasses: Bool = true) throws(FormatError) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines[0] == "lattice-rules \(RuleSet.formatVersion)" else {
            throw FormatError(line: 1, message: "expected 'lattice-rules \(RuleSet.formatVersion)': not a rule file of this version; regenerate it with 'lattice rules generate'")
        }
        let head = lines[1].split(separator: " ")
        guard head.count == 8, head[0] == "gate-set", let g = Int(head[3]), let q = Int(head[5]), let m = Int(head[7]) else {
            throw FormatError(line: 2, message: "expected 'gate-set NAME gates N qubits Q params M'")
        }
        guard (1...RuleSet.maxGates).contains(g) else {
            throw FormatError(line: 2, message: "gates \(g): rule circuits have 1...\(RuleSet.maxGates) gates")
        }
        guard let gateSet = GateSet(rawValue: String(head[1])) else {
            throw FormatError(line: 2, message: "unknown gate set '\(head[1])' (known: \(GateSet.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        // Each circuit must fit the header (its gate set and size); each identity is checked exactly below.
        func fitsHeader(_ c: RuleCircuit, line: Int) throws(FormatError) {
            if let k = c.gates.first(where: { !gateSet.kinds.contains($0.kind) })?.kind {
                throw FormatError(line: line, message: "gate '\(k.name)' is not in the header's gate set \(gateSet.rawValue)")
            }
            guard c.count <= g else {
                throw FormatError(line: line, message: "a circuit of \(c.count) gates; the header says at most \(g)")
            }
        }
        var identities: [(line: Int, source: RuleCircuit, target: RuleCircuit)] = []
        var classes: [[RuleCircuit]] = []
        var rules: [Rule] = []
        var skippedClasses = 0, skippedCircuits = 0
        for (i, line) in lines.enumerated().dropFirst(2) where !line.isEmpty {
            if line.hasPrefix("rule ") {
                let sides = line.dropFirst(5).components(separatedBy: " => ")
                guard sides.count == 2, let s = RuleCircuit(text: Substring(sides[0])), let t = RuleCircuit(text: Substring(sides[1])),
                      !s.gates.isEmpty, s.usedQubits.allSatisfy({ $0 < q }), t.usedQubits.isSubset(of: s.usedQubits),
                      t.usedParams.isSubset(of: s.usedParams) else {
                    throw FormatError(line: i + 1, message: "cannot read rule '\(line.dropFirst(5))': expected SOURCE => TARGET over the source's qubits and parameters")
                }
                try fitsHeader(s, line: i + 1)
                try fitsHeader(t, line: i + 1)
                rules.append(Rule(source: s, target: t))
                identities.append((i + 1, s, t))
                continue
            }
            guard line.hasPrefix("class ") else { throw FormatError(line: i + 1, message: "expected 'class ...' or 'rule ...'") }
            if !readClasses {
                skippedClasses += 1
                skippedCircuits += 1 + line.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "|") ? 1 : 0) }
                continue
            }
            var members: [RuleCircuit] = []
            for part in line.dropFirst(6).split(separator: "|") {
                let trimmed = part.trimmingCharacters(in: .whitespaces)
                guard let c = RuleCircuit(text: Substring(trimmed)), c.usedQubits.allSatisfy({ $0 < q }) else {
                    throw FormatError(line: i + 1, message: "cannot read circuit '\(trimmed)'")
                }
                try fitsHeader(c, line: i + 1)
                if let first = members.first { identities.append((i + 1, first, c)) }
                members.append(c)
            }
            classes.append(members)
        }
        if !readClasses && rules.isEmpty { throw FormatError(line: 1, message: "the file has no rule lines: load it with its classes") }
        let sum = RuleVerification.checksum(text)
        if !RuleVerification.isTrusted(sum, classes: readClasses) {
            for (line, s, t) in identities {
                if let why = RuleVerification.refutation(s, t) {
                    throw FormatError(line: line, message: "not an identity: \(why); regenerate the file with 'lattice rules generate'")
                }
            }
            RuleVerification.remember(sum, classes: readClasses)
        }
        self.init(gateSet: String(head[1]), gates: g, qubits: q, params: m, classes: classes, rules: rules.isEmpty ? nil : rules)
        if !readClasses {
            classCount = skippedClasses
            circuitCount = skippedCircuits
        }
    }

    /// Reads and verifies a rule file for rewriting in `gateSet` (the optimizer rewrites in Nam gates).
    public static func load(_ path: String, classes: Bool = false, gateSet: GateSet = .nam) throws -> RuleSet {
        let set = try RuleSet(text: String(contentsOfFile: path, encoding: .utf8), classes: classes)
        guard set.gateSet == gateSet.rawValue else {
            throw FormatError(line: 2, message: "the rules are for gate set \(set.gateSet), but rewriting here is in \(gateSet.rawValue): use a rule file generated for \(gateSet.rawValue)")
        }
        return set
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
    public static func defaultPath(from start: URL, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let env = environment["LATTICE_RULES"], !env.isEmpty { return env }
        var dir = start
        for _ in 0..<8 {
            let candidate = dir.appendingPathComponent("Services/CircuitOptimizer/rules/nam.rules")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// The default rule file was found but cannot be used (unreadable, malformed, a rule that fails
    /// verification, another gate set).
    public struct DefaultRulesError: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var reason: String
        public var description: String {
            "the default rule file \(path) cannot be used: \(reason) (or name another rule file with --rules or LATTICE_RULES)"
        }
    }

    /// The default rules: the shipped file (or `LATTICE_RULES`), or, only when there is no such file, a
    /// small set generated on the spot. A file that is there but fails to load or verify is an error
    /// naming it: falling back would quietly optimise with far fewer rules.
    public static func standard(from start: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws(DefaultRulesError) -> RuleSet {
        guard let p = defaultPath(from: start, environment: environment) else {
            return RuleGenerator(gates: 3, qubits: 3, params: 2).generate()
        }
        do { return try RuleSet.load(p) } catch { throw DefaultRulesError(path: p, reason: "\(error)") }
    }
}
