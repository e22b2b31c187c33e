/// An exact fraction with a positive denominator, always in lowest terms.
/// Arithmetic reports overflow as `nil` so that callers can fall back to floating point.
public struct Rational: Hashable, Sendable, CustomStringConvertible {
    public let numerator: Int
    public let denominator: Int

    public init?(_ numerator: Int, _ denominator: Int = 1) {
        guard denominator != 0, numerator != Int.min, denominator != Int.min else { return nil }
        let g = Rational.gcd(abs(numerator), abs(denominator))
        let sign = denominator < 0 ? -1 : 1
        self.numerator = sign * numerator / max(g, 1)
        self.denominator = sign * denominator / max(g, 1)
    }

    public static let zero = Rational(unchecked: 0, 1)
    public static let one = Rational(unchecked: 1, 1)

    init(unchecked n: Int, _ d: Int) { numerator = n; denominator = d }

    static func gcd(_ a: Int, _ b: Int) -> Int {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    public var doubleValue: Double { Double(numerator) / Double(denominator) }
    public var isZero: Bool { numerator == 0 }
    public var isInteger: Bool { denominator == 1 }

    public func adding(_ o: Rational) -> Rational? {
        let (ad, o1) = numerator.multipliedReportingOverflow(by: o.denominator)
        let (bc, o2) = o.numerator.multipliedReportingOverflow(by: denominator)
        let (bd, o3) = denominator.multipliedReportingOverflow(by: o.denominator)
        let (sum, o4) = ad.addingReportingOverflow(bc)
        if o1 || o2 || o3 || o4 { return nil }
        return Rational(sum, bd)
    }

    public func multiplying(_ o: Rational) -> Rational? {
        let (n, o1) = numerator.multipliedReportingOverflow(by: o.numerator)
        let (d, o2) = denominator.multipliedReportingOverflow(by: o.denominator)
        if o1 || o2 { return nil }
        return Rational(n, d)
    }

    public func dividing(by o: Rational) -> Rational? {
        guard o.numerator != 0, let inv = Rational(o.denominator, o.numerator) else { return nil }
        return multiplying(inv)
    }

    public var negated: Rational { Rational(unchecked: -numerator, denominator) }

    /// The value reduced into (-1, 1] modulo 2 (used for angles measured in units of π).
    public var reducedModTwo: Rational {
        let period = 2 * denominator
        var n = numerator % period
        if n <= -denominator { n += period }
        if n > denominator { n -= period }
        return Rational(n, denominator) ?? self
    }

    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }
}
