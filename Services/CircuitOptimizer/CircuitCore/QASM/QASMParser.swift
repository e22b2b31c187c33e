/// Parses OpenQASM 2.0 into a flat `Circuit`: user gates are inlined, registers flattened,
/// angles kept exact where the text is a rational multiple of π.
public struct QASMParser {
    /// Inputs above these sizes are refused with an error instead of exhausting memory.
    public struct Limits: Sendable {
        public var maxQubits = 100_000
        public var maxGates = 5_000_000
        public init() {}
    }

    public static func parse(_ source: String, limits: Limits = Limits()) throws(QASMError) -> Circuit {
        var p = QASMParser(tokens: try QASMLexer.tokenize(source), limits: limits)
        try p.loadPrelude()
        try p.program()
        return Circuit(qregs: p.qregs, cregs: p.cregs, gates: p.gates)
    }

    // MARK: state

    private struct GateDefinition {
        var params: [String]
        var args: [String]
        var body: [BodyOp]
        /// Definitions inlined one inside another when this gate is applied (1: only built-in gates).
        var nesting: Int
    }

    private enum BodyOp {
        /// `definition`: the user gate `name` meant when the body was read (nil: a built-in gate).
        /// Resolved then, not when applied, so a gate redefined later in terms of itself
        /// (`gate h a { h a; }`) inlines the gate it replaced instead of recursing for ever.
        case call(name: String, definition: GateDefinition?, params: [QASMExpression], args: [String], line: Int, column: Int)
        case barrier(args: [String])
    }

    private var tokens: [Token]
    private var pos = 0
    /// Open `unary()` calls: every nesting of an angle expression (a parenthesis, a function, a
    /// sign, an exponent) recurses through it, so bounding it bounds the parser's stack, which a
    /// line of 1,500 '(' overflowed (found by fuzz-qasm).
    private var expressionNesting = 0
    /// Binary operators in the outermost expression being read: they build a left-deep tree that
    /// evaluation recurses through.
    private var expressionOperators = 0
    private static let maxExpressionNesting = 64
    private static let maxExpressionOperators = 1024
    /// Inlining a user gate recurses once per level of definitions inside definitions; a file of
    /// 100,000 gates each defined by the one before would overflow the stack.
    private static let maxGateNesting = 64
    private let limits: Limits
    private var qregs: [Register] = []
    private var cregs: [Register] = []
    private var gates: [Gate] = []
    private var definitions: [String: GateDefinition] = [:]

    private init(tokens: [Token], limits: Limits) {
        self.tokens = tokens
        self.limits = limits
    }

    /// qelib1 gates without a kind of their own, defined in terms of ones that have.
    private static let prelude = """
    gate cy a,b { sdg b; cx a,b; s b; }
    gate ch a,b { s b; h b; t b; cx a,b; tdg b; h b; sdg b; }
    gate crz(l) a,b { rz(l/2) b; cx a,b; rz(-l/2) b; cx a,b; }
    gate cu1(l) a,b { u1(l/2) a; cx a,b; u1(-l/2) b; cx a,b; u1(l/2) b; }
    gate cp(l) a,b { cu1(l) a,b; }
    gate p(l) a { u1(l) a; }
    gate u(t,p,l) a { u3(t,p,l) a; }
    gate cswap a,b,c { cx c,b; ccx a,b,c; cx c,b; }
    gate rzz(t) a,b { cx a,b; u1(t) b; cx a,b; }
    gate rxx(t) a,b { h a; h b; cx a,b; rz(t) b; cx a,b; h a; h b; }
    """

    private mutating func loadPrelude() throws(QASMError) {
        var sub = QASMParser(tokens: try QASMLexer.tokenize(QASMParser.prelude), limits: limits)
        while !sub.atEnd { try sub.gateDefinition() }
        definitions = sub.definitions
    }

    // MARK: token helpers

    private var current: Token { tokens[pos] }
    private var atEnd: Bool { if case .end = current.kind { return true } else { return false } }

    private func error(_ message: String, at t: Token? = nil) -> QASMError {
        let t = t ?? current
        return QASMError(line: t.line, column: t.column, message)
    }

    private mutating func next() -> Token {
        let t = tokens[pos]
        if pos < tokens.count - 1 { pos += 1 }
        return t
    }

    private func isSymbol(_ s: String) -> Bool { current.kind == .symbol(s) }

    private mutating func expect(_ s: String, _ context: String) throws(QASMError) {
        guard isSymbol(s) else { throw error("expected '\(s)' \(context), found \(current.text)") }
        _ = next()
    }

    private mutating func identifier(_ what: String) throws(QASMError) -> String {
        guard case .identifier(let s) = current.kind else { throw error("expected \(what), found \(current.text)") }
        _ = next()
        return s
    }

    private mutating func integer(_ what: String) throws(QASMError) -> Int {
        guard case .integer(let s) = current.kind else { throw error("expected \(what) (a non-negative integer), found \(current.text)") }
        guard let n = Int(s) else { throw error("\(what) \(s) is too large") }
        _ = next()
        return n
    }

    // MARK: statements

    private mutating func program() throws(QASMError) {
        if case .identifier("OPENQASM") = current.kind {
            _ = next()
            guard case .real(let v) = current.kind else { throw error("expected a version number after OPENQASM, found \(current.text)") }
            guard v.hasPrefix("2.") else { throw error("unsupported OpenQASM version \(v): expected 2.0") }
            _ = next()
            try expect(";", "after the version")
        }
        while !atEnd { try statement() }
    }

    private mutating func statement() throws(QASMError) {
        let start = current
        guard case .identifier(let word) = start.kind else { throw error("expected a statement (qreg, creg, gate, a gate call, barrier or measure), found \(current.text)") }
        switch word {
        case "include":
            _ = next()
            guard case .string(let file) = current.kind else { throw error("expected a file name in quotes after include, found \(current.text)") }
            guard file == "qelib1.inc" else { throw error("cannot include \"\(file)\": only \"qelib1.inc\" is available") }
            _ = next()
            try expect(";", "after include")
        case "qreg", "creg":
            _ = next()
            let nameTok = current
            let name = try identifier("a register name")
            if qregs.contains(where: { $0.name == name }) || cregs.contains(where: { $0.name == name }) {
                throw error("register '\(name)' is already declared", at: nameTok)
            }
            try expect("[", "after the register name")
            let sizeTok = current
            let size = try integer("a register size")
            guard size > 0 else { throw error("register size must be at least 1", at: sizeTok) }
            try expect("]", "after the register size")
            try expect(";", "after the register declaration")
            if word == "qreg" {
                let offset = qregs.reduce(0) { $0 + $1.size }
                guard offset + size <= limits.maxQubits else { throw error("too many qubits: at most \(limits.maxQubits) are supported", at: sizeTok) }
                qregs.append(Register(name: name, size: size, offset: offset))
            } else {
                let offset = cregs.reduce(0) { $0 + $1.size }
                guard offset + size <= limits.maxQubits else { throw error("too many classical bits: at most \(limits.maxQubits) are supported", at: sizeTok) }
                cregs.append(Register(name: name, size: size, offset: offset))
            }
        case "gate":
            try gateDefinition()
        case "opaque":
            throw error("opaque gates cannot be optimized: define the gate with a body instead")
        case "if", "reset":
            throw error("'\(word)' is not supported: only unitary gates, barrier and measure can be optimized")
        case "measure":
            _ = next()
            let qTok = current
            let qs = try operand(qregs, "a quantum register")
            try expect("->", "after the measured qubits")
            let cTok = current
            let cs = try operand(cregs, "a classical register")
            guard qs.count == cs.count else { throw error("measure needs as many classical bits as qubits (\(qs.count) vs \(cs.count))", at: cTok) }
            try expect(";", "after measure")
            _ = qTok
            for (q, c) in zip(qs, cs) { try append(Gate(.measure, [q], cbits: [c])) }
        case "barrier":
            _ = next()
            var qs: [Int] = []
            repeat {
                if isSymbol(",") { _ = next() }
                qs += try operand(qregs, "a quantum register")
            } while isSymbol(",")
            try expect(";", "after barrier operands")
            try append(Gate(.barrier, Array(Set(qs)).sorted()))
        default:
            try gateCall()
        }
    }

    private mutating func gateDefinition() throws(QASMError) {
        _ = next()  // gate
        let nameTok = current
        let name = try identifier("a gate name")
        if name == "U" || name == "CX" { throw error("'\(name)' is built in and cannot be redefined", at: nameTok) }
        var params: [String] = []
        if isSymbol("(") {
            _ = next()
            if !isSymbol(")") {
                repeat {
                    if isSymbol(",") { _ = next() }
                    params.append(try identifier("a parameter name"))
                } while isSymbol(",")
            }
            try expect(")", "after the gate parameters")
        }
        var args: [String] = []
        repeat {
            if isSymbol(",") { _ = next() }
            let t = current
            let a = try identifier("a qubit argument name")
            if args.contains(a) { throw error("qubit argument '\(a)' appears twice", at: t) }
            args.append(a)
        } while isSymbol(",")
        try expect("{", "to open the gate body")
        var body: [BodyOp] = []
        var nesting = 1
        while !isSymbol("}") {
            let t = current
            guard case .identifier(let word) = t.kind else { throw error("expected a gate call or '}' in the body of '\(name)', found \(t.text)") }
            _ = next()
            if word == "barrier" {
                var bargs: [String] = []
                repeat {
                    if isSymbol(",") { _ = next() }
                    let at = current
                    let a = try identifier("a qubit argument")
                    guard args.contains(a) else { throw error("'\(a)' is not an argument of gate '\(name)'", at: at) }
                    bargs.append(a)
                } while isSymbol(",")
                try expect(";", "after barrier")
                body.append(.barrier(args: bargs))
                continue
            }
            guard word == "U" || word == "CX" || GateKind(name: word) != nil || definitions[word] != nil else {
                throw error("unknown gate '\(word)' in the body of '\(name)': define it before use", at: t)
            }
            var exprs: [QASMExpression] = []
            if isSymbol("(") {
                _ = next()
                if !isSymbol(")") {
                    repeat {
                        if isSymbol(",") { _ = next() }
                        exprs.append(try expression())
                    } while isSymbol(",")
                }
                try expect(")", "after the gate parameters")
            }
            var cargs: [String] = []
            repeat {
                if isSymbol(",") { _ = next() }
                let at = current
                let a = try identifier("a qubit argument")
                guard args.contains(a) else { throw error("'\(a)' is not an argument of gate '\(name)'", at: at) }
                cargs.append(a)
            } while isSymbol(",")
            try expect(";", "after the gate call")
            let inner = definitions[word]
            nesting = max(nesting, (inner?.nesting ?? 0) + 1)
            guard nesting <= Self.maxGateNesting else {
                throw error("gate '\(name)' nests gate definitions more than \(Self.maxGateNesting) deep (through '\(word)'): define it with fewer levels", at: t)
            }
            body.append(.call(name: word, definition: inner, params: exprs, args: cargs, line: t.line, column: t.column))
        }
        _ = next()  // }
        definitions[name] = GateDefinition(params: params, args: args, body: body, nesting: nesting)
    }

    /// `name` or `name[i]`, resolved to flat indices.
    private mutating func operand(_ regs: [Register], _ what: String) throws(QASMError) -> [Int] {
        let t = current
        let name = try identifier(what)
        guard let reg = regs.first(where: { $0.name == name }) else {
            throw error("undeclared register '\(name)': declare it first with \(what.contains("quantum") ? "qreg" : "creg") \(name)[n];", at: t)
        }
        guard isSymbol("[") else { return Array(reg.offset..<(reg.offset + reg.size)) }
        _ = next()
        let it = current
        let i = try integer("an index")
        guard i < reg.size else { throw error("index \(i) is out of range for register '\(name)' of size \(reg.size)", at: it) }
        try expect("]", "after the index")
        return [reg.offset + i]
    }

    private mutating func gateCall() throws(QASMError) {
        let t = current
        let name = try identifier("a gate name")
        var exprs: [QASMExpression] = []
        if isSymbol("(") {
            _ = next()
            if !isSymbol(")") {
                repeat {
                    if isSymbol(",") { _ = next() }
                    exprs.append(try expression())
                } while isSymbol(",")
            }
            try expect(")", "after the gate parameters")
        }
        var operands: [[Int]] = []
        var operandTokens: [Token] = []
        repeat {
            if isSymbol(",") { _ = next() }
            operandTokens.append(current)
            operands.append(try operand(qregs, "a quantum register"))
        } while isSymbol(",")
        try expect(";", "after the gate call")
        let values = try exprs.map { (e) throws(QASMError) in try e.evaluate([:]) }
        // Broadcast: whole registers apply the gate element-wise.
        let width = operands.map(\.count).max() ?? 1
        for (k, o) in operands.enumerated() where o.count != 1 && o.count != width {
            throw error("register sizes differ in this call (\(o.count) vs \(width))", at: operandTokens[k])
        }
        for i in 0..<width {
            let qs = operands.map { $0.count == 1 ? $0[0] : $0[i] }
            try apply(name, definitions[name], values, qs, at: t)
        }
    }

    /// Applies the user gate `definition` (inlined), or the built-in gate `name` when it is nil.
    private mutating func apply(_ name: String, _ definition: GateDefinition?, _ values: [QASMExpression.Value], _ qs: [Int],
                                at t: Token) throws(QASMError) {
        if Set(qs).count != qs.count { throw error("gate '\(name)' uses the same qubit twice", at: t) }
        if let def = definition {
            guard def.params.count == values.count else { throw error("gate '\(name)' takes \(def.params.count) parameter(s), got \(values.count)", at: t) }
            guard def.args.count == qs.count else { throw error("gate '\(name)' acts on \(def.args.count) qubit(s), got \(qs.count)", at: t) }
            let env = Dictionary(uniqueKeysWithValues: zip(def.params, values))
            let map = Dictionary(uniqueKeysWithValues: zip(def.args, qs))
            for op in def.body {
                switch op {
                case .barrier(let args):
                    try append(Gate(.barrier, args.compactMap { map[$0] }.sorted()))
                case .call(let n, let inner, let ps, let args, let line, let column):
                    let vs = try ps.map { (e) throws(QASMError) in try e.evaluate(env) }
                    let at = Token(kind: .identifier(n), line: line, column: column)
                    try apply(n, inner, vs, args.compactMap { map[$0] }, at: at)
                }
            }
            return
        }
        let kind: GateKind
        switch name {
        case "U": kind = .u3
        case "CX": kind = .cx
        default:
            guard let k = GateKind(name: name), !k.isFence else {
                throw error("unknown gate '\(name)': use a qelib1 gate or define it with 'gate \(name) ... { ... }'", at: t)
            }
            kind = k
        }
        guard kind.parameterCount == values.count else { throw error("gate '\(name)' takes \(kind.parameterCount) parameter(s), got \(values.count)", at: t) }
        guard kind.qubitCount == qs.count else { throw error("gate '\(name)' acts on \(kind.qubitCount) qubit(s), got \(qs.count)", at: t) }
        try append(Gate(kind, qs, values.map { $0.angle.normalized }))
    }

    private mutating func append(_ g: Gate) throws(QASMError) {
        guard gates.count < limits.maxGates else { throw error("too many gates: at most \(limits.maxGates) are supported") }
        gates.append(g)
    }

    // MARK: expressions (precedence: + - < * / < unary - < ^)

    private mutating func expression() throws(QASMError) -> QASMExpression {
        if expressionNesting == 0 { expressionOperators = 0 }
        var lhs = try term()
        while isSymbol("+") || isSymbol("-") {
            try countOperator()
            let op = next()
            guard case .symbol(let s) = op.kind else { break }
            lhs = .binary(s, lhs, try term(), line: op.line, column: op.column)
        }
        return lhs
    }

    private mutating func term() throws(QASMError) -> QASMExpression {
        var lhs = try unary()
        while isSymbol("*") || isSymbol("/") {
            try countOperator()
            let op = next()
            guard case .symbol(let s) = op.kind else { break }
            lhs = .binary(s, lhs, try unary(), line: op.line, column: op.column)
        }
        return lhs
    }

    private mutating func countOperator() throws(QASMError) {
        expressionOperators += 1
        guard expressionOperators <= Self.maxExpressionOperators else {
            throw error("angle expression too long: at most \(Self.maxExpressionOperators) operators in one expression")
        }
    }

    private mutating func unary() throws(QASMError) -> QASMExpression {
        expressionNesting += 1
        defer { expressionNesting -= 1 }
        guard expressionNesting <= Self.maxExpressionNesting else {
            throw error("angle expression nested too deeply: at most \(Self.maxExpressionNesting) levels of parentheses, signs and exponents")
        }
        if isSymbol("-") { _ = next(); return .negate(try unary()) }
        if isSymbol("+") { _ = next(); return try unary() }
        return try power()
    }

    private mutating func power() throws(QASMError) -> QASMExpression {
        let base = try primary()
        if isSymbol("^") {
            try countOperator()
            let op = next()
            return .binary("^", base, try unary(), line: op.line, column: op.column)
        }
        return base
    }

    private mutating func primary() throws(QASMError) -> QASMExpression {
        let t = current
        switch t.kind {
        case .integer(let s), .real(let s):
            _ = next()
            guard let v = QASMExpression.Value.literal(s) else { throw error("number \(s) cannot be read", at: t) }
            return .number(v)
        case .identifier("pi"):
            _ = next()
            return .pi
        case .identifier(let name):
            _ = next()
            if isSymbol("(") {
                _ = next()
                let arg = try expression()
                try expect(")", "after the function argument")
                return .function(name, arg, line: t.line, column: t.column)
            }
            return .parameter(name, line: t.line, column: t.column)
        case .symbol("("):
            _ = next()
            let e = try expression()
            try expect(")", "to close the parenthesis")
            return e
        default:
            throw error("expected an angle expression (a number, pi, a parameter or '('), found \(t.text)")
        }
    }
}
