import Foundation
import Wire

/// Named running totals a service adds to its Stats (calls finished, rejected, seconds spent).
public final class StatTotals: @unchecked Sendable {
    private let lock = NSLock()
    private var totals: [String: Double]

    public init(_ names: [String]) { totals = Dictionary(uniqueKeysWithValues: names.map { ($0, 0) }) }

    public func add(_ name: String, _ amount: Double = 1) { lock.withLock { totals[name, default: 0] += amount } }

    public var stats: [Stat] { lock.withLock { totals.sorted { $0.key < $1.key }.map { Stat(name: $0.key, value: $0.value) } } }
}
