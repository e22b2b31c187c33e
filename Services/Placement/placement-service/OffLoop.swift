import PlacementCore
import ServiceKit

/// Runs blocking solver work in the service's bounded `WorkPool`, not on Swift's small cooperative
/// pool (a minute-long solve there would starve every other call). Cancelling the calling task (client CANCEL,
/// deadline, closed connection) trips the token; the solver then returns its best so far.
enum OffLoop {
    static func run<T: Sendable>(in pool: WorkPool, for client: String?, _ body: @escaping @Sendable (CancellationToken) throws -> T) async throws -> T {
        let token = CancellationToken()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                do {
                    try pool.start(for: client) { continuation.resume(with: Result { try body(token) }) }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            token.cancel()
        }
    }
}
