import Foundation

/// A parameter expression, kept as a tree so that gate bodies can be evaluated per call.
indirect enum QASMExpression: Sendable {
    case number(Value)
    case pi
    case parameter(String, line: Int, column: Int)
    case negate(QASMExpression)
    case binary(String, QASMExpression, QASMExpression, line: Int, column: Int)
    case function(String, QASMExpression, line: Int, column: Int)

    /// An exact value `coefficient · π^piPower` (piPower 0 or 1), or a float once exactness is lost.
    enum Value: Sendable {
        case exact(Rational, piPower: Int)
        case real(Double)

        var double: Double {
            switch self {
            case .exact(let r, let p): return r.doubleValue * (p == 1 ? Double.pi : 1)
            case .real(let x): return x
            }
        }

        var angle: Angle {
            switch self {
            case .exact(let r, 1): return .pi(r)
            case .exact(let r, _) where r.isZero: return .zero
            default: return .radians(double)
            }
        }

        /// Reads a decimal literal exactly when it fits (0.25 → 1/4), else as a float.
        static func literal(_ text: String) -> Value? {
            if let n = Int(text), let r = Rational(n) { return .exact(r, piPower: 0) }
            let lower = text.lowercased()
            if !lower.contains("e"), let dot = lower.firstIndex(of: ".") {
                let whole = String(lower[..<dot]), frac = String(lower[lower.index(after: dot)...])
                if frac.count <= 15, let w = Int(whole.isEmpty ? "0" : whole), let f = Int(frac.isEmpty ? "0" : frac) {
                    var den = 1
                    for _ in 0..<frac.count { den *= 10 }
                    let (wd, o1) = w.multipliedReportingOverflow(by: den)
                    let (n, o2) = wd.addingReportingOverflow(f)
                    if !o1 && !o2, let r = Rational(n, den) { return .exact(r, piPower: 0) }
                }
            }
            guard let x = Double(text), x.isFinite else { return nil }
            return .real(x)
        }
    }

    func evaluate(_ env: [String: Value]) throws(QASMError) -> Value {
        switch self {
        case .number(let v): return v
        case .pi: return .exact(.one, piPower: 1)
        case .parameter(let name, let line, let column):
            guard let v = env[name] else { throw QASMError(line: line, column: column, "unknown parameter '\(name)': expected pi, a number or a gate parameter") }
            return v
        case .negate(let e):
            switch try e.evaluate(env) {
            case .exact(let r, let p): return .exact(r.negated, piPower: p)
            case .real(let x): return .real(-x)
            }
        case .binary(let op, let l, let r, let line, let column):
            let a = try l.evaluate(env), b = try r.evaluate(env)
            let v = QASMExpression.combine(op, a, b)
            if case .real(let x) = v, !x.isFinite {
                throw QASMError(line: line, column: column, "angle is not a finite number (division by zero or overflow)")
            }
            return v
        case .function(let name, let e, let line, let column):
            let x = try e.evaluate(env).double
            let y: Double
            switch name {
            case "sin": y = sin(x)
            case "cos": y = cos(x)
            case "tan": y = tan(x)
            case "exp": y = exp(x)
            case "ln": y = log(x)
            case "sqrt": y = x.squareRoot()
            default: throw QASMError(line: line, column: column, "unknown function '\(name)': expected sin, cos, tan, exp, ln or sqrt")
            }
            guard y.isFinite else { throw QASMError(line: line, column: column, "\(name)(\(x)) is not a finite number") }
            return .real(y)
        }
    }

    static func combine(_ op: String, _ a: Value, _ b: Value) -> Value {
        if case .exact(let x, let p) = a, case .exact(let y, let q) = b {
            switch op {
            case "+", "-":
                let y2 = op == "-" ? y.negated : y
                if x.isZero { return .exact(y2, piPower: q) }
                if y.isZero { return a }
                if p == q, let s = x.adding(y2) { return .exact(s, piPower: p) }
            case "*":
                if p + q <= 1, let m = x.multiplying(y) { return .exact(m, piPower: p + q) }
            case "/":
                if !y.isZero, p - q >= 0, p - q <= 1, let d = x.dividing(by: y) { return .exact(d, piPower: p - q) }
            case "^":
                if p == 0, q == 0, y.isInteger, abs(y.numerator) <= 64 {
                    var r = Rational.one
                    var ok = true
                    for _ in 0..<abs(y.numerator) { if let m = r.multiplying(x) { r = m } else { ok = false; break } }
                    if ok, y.numerator >= 0 { return .exact(r, piPower: 0) }
                    if ok, let inv = Rational.one.dividing(by: r) { return .exact(inv, piPower: 0) }
                }
            default: break
            }
        }
        let x = a.double, y = b.double
        switch op {
        case "+": return .real(x + y)
        case "-": return .real(x - y)
        case "*": return .real(x * y)
        case "/": return .real(x / y)
        default: return .real(pow(x, y))
        }
    }
}
