import Foundation
import Synchronization

/// A lock that the loop thread skips while it alone uses the state behind it (a connection's call
/// table, a channel's write queue). The loop `share`s the state when another thread is about to
/// need it (the client: a call submitted off the loop; the server: a call admitted for a handler
/// thread); from then on
/// everyone takes the lock, the loop too, and it is never unshared. A connection whose calls all
/// stay on the loop so takes no lock per call: two to three NSLock rounds fewer (~50-70 ns each on
/// this 2-core VM, loaded; bench-transport's loop row, session 15).
final class LoopSharedLock: @unchecked Sendable {
    private let lock = NSLock()
    private let shared = Atomic<Bool>(false)
    private let loop: EventLoop

    init(loop: EventLoop) { self.loop = loop }

    /// Whether other threads may take the lock now. Before, they must ask the loop to `share`.
    var isShared: Bool { shared.load(ordering: .acquiring) }

    /// Loop thread: others share the state from now on. A thread that takes the lock after this
    /// (having seen `isShared`, or having been handed work listed under the lock) sees what the
    /// loop did unlocked before.
    func share() {
        loop.assertInLoop("LoopSharedLock.share")
        shared.store(true, ordering: .releasing)
    }

    /// Loop thread: `body`, under the lock once the state is shared.
    @inline(__always)
    func fromLoop<R>(_ body: () throws -> R) rethrows -> R {
        loop.assertInLoop("LoopSharedLock.fromLoop")
        return shared.load(ordering: .relaxed) ? try lock.withLock(body) : try body()
    }

    /// Any thread: `body` as `fromLoop` on the loop, under the lock elsewhere (once shared).
    @inline(__always)
    func withAccess<R>(onLoopThread: Bool, _ body: () throws -> R) rethrows -> R {
        onLoopThread ? try fromLoop(body) : try lock.withLock(body)
    }

    /// Another thread (the state is shared): `body` under the lock.
    @inline(__always)
    func fromOtherThread<R>(_ body: () throws -> R) rethrows -> R {
        try lock.withLock(body)
    }
}
