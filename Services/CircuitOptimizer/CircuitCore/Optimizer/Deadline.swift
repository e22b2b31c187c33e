import Foundation

/// A point in time after which long work stops and returns its best so far; also carries cancellation.
public struct Deadline: Sendable {
    public let end: Double
    let cancelled: @Sendable () -> Bool

    public init(seconds: Double, cancelled: @escaping @Sendable () -> Bool = { false }) {
        end = Deadline.now() + max(0, seconds)
        self.cancelled = cancelled
    }

    public static func now() -> Double { Date().timeIntervalSinceReferenceDate }
    public var remaining: Double { end - Deadline.now() }
    public var expired: Bool { Deadline.now() >= end || cancelled() }
    public static let never = Deadline(seconds: 1e12)
}
