import Foundation

/// A value shared between threads behind a lock, for what is touched rarely or off the per-frame
/// path (calls per API key, a result handed back by `executeAndWait`).
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
