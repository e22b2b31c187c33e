import Dispatch
import PlacementCore

/// Runs blocking solver work on a GCD thread, not on Swift's small cooperative pool (a minute-long
/// solve there would starve every other call). Cancelling the calling task (client CANCEL,
/// deadline, closed connection) trips the token; the solver then returns its best so far.
enum OffLoop {
    static func run<T: Sendable>(_ body: @escaping @Sendable (CancellationToken) throws -> T) async throws -> T {
        let token = CancellationToken()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try body(token) })
                }
            }
        } onCancel: {
            token.cancel()
        }
    }
}
