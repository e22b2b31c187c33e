import Foundation
import ServiceKit

/// A flag the optimizer polls; set when the call is cancelled.
final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false
    func cancel() { lock.withLock { set = true } }
    var isSet: Bool { lock.withLock { set } }
}

/// Runs blocking optimizer work in the service's bounded `WorkPool`. Cancelling
/// the calling task (client CANCEL, deadline, closed connection) sets the flag; the optimizer then
/// stops and returns its best so far.
enum OffLoop {
    static func run<T: Sendable>(in pool: WorkPool, for client: String?, _ body: @escaping @Sendable (CancelFlag) throws -> T) async throws -> T {
        let flag = CancelFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                do {
                    try pool.start(for: client) { continuation.resume(with: Result { try body(flag) }) }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            flag.cancel()
        }
    }
}
