import Foundation

/// A value shared between threads behind a lock. Used for the few things that both the loop
/// thread and callers touch (handler table, stats, call-id counter).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
