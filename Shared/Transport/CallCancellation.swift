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

    /// The owner task's address (`UnsafeCurrentTask` may not be kept; its address may: no other
    /// task has it while the owner runs the scope).
    private let owner: UInt
    private let state = Mutex(State())

    private init(owner: UInt) { self.owner = owner }

    /// Not `hashValue`: that runs SipHash on every call (about 1% of a pipelining caller's CPU in perf).
    static func currentTaskAddress() -> UInt {
        withUnsafeCurrentTask { task in task.map { unsafeBitCast($0, to: UInt.self) } ?? 0 }
    }

    /// Runs `body` in a scope owned by the calling task (the public entry is
    /// `Connection.withCallCancellation`).
    /// `isolation`, not `nonisolated(nonsending)`, and the closures capture it: a closure is
    /// isolated to an isolated parameter only if it captures it. Without, they were
    /// nonisolated, and a caller isolated to `TransportLoopActor` ran its whole scope on Swift's
    /// global pool (perf: half the bench client's samples on its threads).
    static func scope<T>(isolation: isolated (any Actor)? = #isolation,
                         _ body: nonisolated(nonsending) () async throws -> T) async rethrows -> T {
        let scope = CallCancellation(owner: currentTaskAddress())
        defer { scope.state.withLock { $0.ended = true } }
        return try await withTaskCancellationHandler {
            _ = isolation
            return try await $current.withValue(scope) {
                _ = isolation
                return try await body()
            }
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
        guard let scope = current, scope.owner == currentTaskAddress() else { return (.notCovered, nil) }
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
