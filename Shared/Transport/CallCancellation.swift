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

    /// The owner task's address (`UnsafeCurrentTask` may not be kept; its address may: no other
    /// task has it while the owner runs the scope).
    private let owner: UInt
    /// The id of the call in flight (0: none), with `cancelledBit` set once the task is cancelled.
    /// One atomic word, so a call's start and end take no lock: two Mutex rounds per call
    /// before (with a retain and release of the core each), ~3% of a pipelining loop caller's CPU.
    private let state = Atomic<UInt64>(0)
    private static let cancelledBit: UInt64 = 1 << 63
    /// The connection of the call in `state`. Changed by the owner only when its calls move to
    /// another connection, together with `state` under this lock, and read with it by `cancel`:
    /// the id and its connection are always seen together.
    private let core = Mutex<ClientCore?>(nil)
    /// The owner's copy of `core` (owner task only): most calls go where the last one went, and
    /// find it without the lock.
    private nonisolated(unsafe) var ownerCore: ClientCore?
    /// The scope's body returned: a task that inherited the task-local and reuses the owner's
    /// address later (an unstructured Task) is not covered.
    private let ended = Atomic<Bool>(false)

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
        defer { scope.ended.store(true, ordering: .releasing) }
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
        guard let scope = current, scope.owner == currentTaskAddress(), !scope.ended.load(ordering: .acquiring),
              id & cancelledBit == 0 else { return (.notCovered, nil) }
        // (An id with the top bit, after 2^63 calls on one connection, gets a handler of its own.)
        // Only the owner stores an id, and only over 0: a failed exchange means cancelled.
        let stored: Bool
        if scope.ownerCore === core {
            stored = scope.state.compareExchange(expected: 0, desired: id, ordering: .acquiringAndReleasing).exchanged
        } else {
            stored = scope.core.withLock { current in
                current = core
                return scope.state.compareExchange(expected: 0, desired: id, ordering: .acquiringAndReleasing).exchanged
            }
            scope.ownerCore = core
        }
        return (stored ? .tracked : .cancelled, scope)
    }

    /// The call in flight ended (after a cancel the bit stays, and later calls are not sent).
    func end() {
        let id = state.load(ordering: .relaxed)
        if id & Self.cancelledBit == 0 {
            _ = state.compareExchange(expected: id, desired: 0, ordering: .acquiringAndReleasing)
        }
    }

    private func cancel() {
        let (previous, core) = core.withLock { core in
            (state.bitwiseOr(Self.cancelledBit, ordering: .acquiringAndReleasing).oldValue, core)
        }
        let id = previous & ~Self.cancelledBit
        if id != 0, let core { core.loop.execute { core.cancel(id) } }
    }
}
