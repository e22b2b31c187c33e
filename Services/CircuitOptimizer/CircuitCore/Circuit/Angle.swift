import Foundation

/// A rotation angle: an exact rational multiple of π where the source had one, radians otherwise.
/// Sums of exact angles stay exact, so `rz(a)·rz(b) = rz(a+b)` and `rz(2kπ) = I` are decided exactly.
public enum Angle: Hashable, Sendable, CustomStringConvertible {
    case pi(Rational)
    case radians(Double)

    public static let zero = Angle.pi(.zero)
    public static func piTimes(_ n: Int, over d: Int = 1) -> Angle { .pi(Rational(n, d) ?? .zero) }

    public var radians: Double {
        switch self {
        case .pi(let r): return r.doubleValue * Double.pi
        case .radians(let x): return x
        }
    }

    public var isExact: Bool { if case .pi = self { return true } else { return false } }

    /// The same angle reduced modulo 2π into (-π, π]; floats within 1e-12 of a multiple of π/4 stay floats.
    public var normalized: Angle {
        switch self {
        case .pi(let r): return .pi(r.reducedModTwo)
        case .radians(let x):
            var y = x.truncatingRemainder(dividingBy: 2 * .pi)
            if y <= -.pi { y += 2 * .pi }
            if y > .pi { y -= 2 * .pi }
            return .radians(y)
        }
    }

    /// True when the angle is a multiple of 2π (exactly, or within 1e-12 for floats).
    public var isZeroModTwoPi: Bool {
        switch normalized {
        case .pi(let r): return r.isZero
        case .radians(let x): return abs(x) < 1e-12
        }
    }

    public static func + (a: Angle, b: Angle) -> Angle {
        if case .pi(let x) = a, case .pi(let y) = b, let s = x.adding(y) { return Angle.pi(s).normalized }
        return Angle.radians(a.radians + b.radians).normalized
    }

    public static prefix func - (a: Angle) -> Angle {
        switch a {
        case .pi(let r): return .pi(r.negated)
        case .radians(let x): return .radians(-x)
        }
    }

    public static func - (a: Angle, b: Angle) -> Angle { a + (-b) }

    public func scaled(by k: Int) -> Angle {
        switch self {
        case .pi(let r):
            if let k = Rational(k), let p = r.multiplying(k) { return Angle.pi(p).normalized }
            return Angle.radians(radians * Double(k)).normalized
        case .radians(let x): return Angle.radians(x * Double(k)).normalized
        }
    }

    /// Equality up to a multiple of 2π.
    public func equalsModTwoPi(_ o: Angle) -> Bool { (self - o).isZeroModTwoPi }

    /// OpenQASM text: `pi*3/4`, `-pi/2`, `pi`, `0`, or a decimal for non-exact angles.
    public var description: String {
        switch self {
        case .pi(let r):
            if r.isZero { return "0" }
            let sign = r.numerator < 0 ? "-" : ""
            let n = abs(r.numerator)
            let num = n == 1 ? "pi" : "pi*\(n)"
            return r.denominator == 1 ? sign + num : sign + num + "/\(r.denominator)"
        case .radians(let x):
            return String(format: "%.17g", x)
        }
    }
}
