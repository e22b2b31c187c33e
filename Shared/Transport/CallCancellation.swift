import Synchronization

/// One cancellation handler for every call a task makes in `Connection.withCallCancellation`,
/// instead of one `withTaskCancellationHandler` per call. That function takes 3 of the 6 task
/// switches of a call from a task on the loop executor, and for such a task each switch takes a
/// runtime lock (session-12 profile: about 25% of the caller's CPU).
///
/// A task awaits one call at a time, so the scope tracks one call in flight. Child tasks inherit
/// the task-local but not the handler (a group's `cancelAll` does not cancel the parent): a
/// call from any task but the owner, or after the scope ended, registers its own handler.
final class CallCancellation: Sendable {
    @TaskLocal static var current: CallCancellation?

    private struct State {
        var cancelled = false
        var ended = false
        var inFlight: (core: ClientCore, id: UInt64)?
    }

    /// The owner task's hash (`UnsafeCurrentTask` may not be kept; its hash may).
    private let owner: Int
    private let state = Mutex(State())

    private init(owner: Int) { self.owner = owner }

    static func currentTaskHash() -> Int { withUnsafeCurrentTask { $0?.hashValue ?? 0 } }

    /// Runs `body` in a scope owned by the calling task (the public entry is
    /// `Connection.withCallCancellation`).
    nonisolated(nonsending) static func scope<T>(_ body: nonisolated(nonsending) () async throws -> T) async rethrows -> T {
        let scope = CallCancellation(owner: currentTaskHash())
        defer { scope.state.withLock { $0.ended = true } }
        return try await withTaskCancellationHandler {
            try await $current.withValue(scope) { try await body() }
        } onCancel: {
            scope.cancel()
        }
    }

    enum Begun {
        case tracked       // the scope cancels it: call `end` once it is answered
        case cancelled     // the task is cancelled already: do not start it
        case notCovered    // another task's scope, or none: the call needs a handler of its own
    }

    /// Records call `id` of `core` as the current task's call in flight, if a scope covers it.
    static func begin(_ core: ClientCore, _ id: UInt64) -> (Begun, CallCancellation?) {
        guard let scope = current, scope.owner == currentTaskHash() else { return (.notCovered, nil) }
        let begun = scope.state.withLock { state -> Begun in
            if state.ended { return .notCovered }
            if state.cancelled { return .cancelled }
            state.inFlight = (core, id)
            return .tracked
        }
        return (begun, scope)
    }

    /// The call in flight ended.
    func end() {
        state.withLock { $0.inFlight = nil }
    }

    private func cancel() {
        let call = state.withLock { state in
            state.cancelled = true
            return state.inFlight.take()
        }
        if let (core, id) = call { core.loop.execute { core.cancel(id) } }
    }
}
