import Foundation
import Wire

/// Named running totals for the service's Stats (calls finished, rejected, seconds spent).
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var totals: [String: Double]

    init(_ names: [String]) { totals = Dictionary(uniqueKeysWithValues: names.map { ($0, 0) }) }

    func add(_ name: String, _ amount: Double = 1) { lock.withLock { totals[name, default: 0] += amount } }

    var stats: [Stat] { lock.withLock { totals.sorted { $0.key < $1.key }.map { Stat(name: $0.key, value: $0.value) } } }
}
