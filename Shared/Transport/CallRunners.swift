import Foundation
import Synchronization

/// Long-lived Tasks that run a server's calls on one executor (the loop for non-blocking
/// handlers, the handler threads for the others). Calls wait in one queue; a runner takes them
/// one after another, so the requests of one read (64 pipelined calls, say) run back to back in
/// one runner's job, with no Task, continuation or executor job per call. A runner out of calls
/// parks on a continuation; a call that finds no runner on its way wakes one (or creates one).
///
/// A call must never wait behind one that suspends (awaits something) or blocks. On the loop,
/// whenever a runner takes a call and others are still waiting, one more runner is sent for
/// them (a "spare"; at most one on its way at a time); a spare that finds none parks again (one
/// wasted wake per batch, not one per call). On the handler threads a runner is sent per call
/// (see `publishStaged`). Either way a runner that finishes its call takes the next waiting one.
///
/// A runner's Task is what cancelling its call cancels (`ServerConnection.begin` records it): a
/// cancelled runner finishes its call and ends, never to take another (cancellation cannot be
/// undone).
///
/// Each server has its own two sets (its calls only: a server's shutdown ends its parked
/// runners). Calls are handed in on the loop thread only (`ServerConnection.start`); runners
/// take them on their executor's threads, so the queue takes a lock unless that executor is the loop.
final class CallRunners: @unchecked Sendable {
    /// What one call runs: its connection's `run` with the request already in hand. A class:
    /// the queue moves one reference per call; as a struct each move or copy retained and
    /// released its seven references through generic value witnesses (perf, non-blocking echo server).
    /// Not final: the connection's record of the call in flight extends it, so a call is one
    /// allocation (`ServerConnection.ActiveCall`).
    class Assignment: @unchecked Sendable {
        let connection: ServerConnection
        let work: Handler.Work
        let context: CallContext

        init(connection: ServerConnection, work: Handler.Work, context: CallContext) {
            self.connection = connection
            self.work = work
            self.context = context
        }
    }

    private final class Runner: @unchecked Sendable {
        /// Set once, under the runners' lock (or on the loop thread), before the runner can take a call.
        var task: Task<Void, Never>?
        /// Set while parked: resumed with true to take waiting calls, false to end.
        var parked: UnsafeContinuation<Bool, Never>?
        /// Sent for waiting calls and has not taken one yet (as `spareOnItsWay`).
        var isSpare = false
    }

    /// The most runners kept parked. A parked one costs a Task and its first allocator slab
    /// (about 1 KiB); 256 cover many calls that suspend at once, and a burst past it only
    /// creates Tasks, as every call did before runners.
    static let maxParked = 256

    private let executor: any TaskExecutor
    private let loop: EventLoop
    /// The executor is the loop itself: everything here runs on the loop thread, no lock needed.
    private let onLoop: Bool
    /// Runners (Tasks) created so far: calls that found none parked.
    let runnersCreated = Atomic<Int>(0)
    /// Runners woken or created for waiting calls (tests: a batch of calls needs few).
    let runnersSent = Atomic<Int>(0)
    private let lock = NSLock()
    // Guarded by lock unless onLoop (then loop thread only).
    /// Taken by moving out (nil left behind), so the array never holds a call that ran.
    private var waiting: [Assignment?] = []
    private var waitingHead = 0          // the next call to take in `waiting`
    private var spareOnItsWay = false
    private var parked: [Runner] = []
    private var stopped = false
    private var staged: [Assignment?] = []   // loop thread only: calls for the handler threads, published at the iteration's end

    private init(executor: any TaskExecutor, loop: EventLoop, onLoop: Bool) {
        self.executor = executor
        self.loop = loop
        self.onLoop = onLoop
    }

    /// Runners for non-blocking handlers, on `loop`.
    static func onLoop(_ loop: EventLoop) -> CallRunners { CallRunners(executor: loop, loop: loop, onLoop: true) }
    /// Runners for handlers that may block, on the handler threads.
    static func onHandlerThreads(_ pool: HandlerPool, loop: EventLoop) -> CallRunners { CallRunners(executor: pool, loop: loop, onLoop: false) }

    @inline(__always) private func lockUnlessLoop() { if onLoop { loop.assertInLoop("loop call runners") } else { lock.lock() } }
    @inline(__always) private func unlockUnlessLoop() { if !onLoop { lock.unlock() } }

    /// Loop thread, once no call is left (the server shut down): parked runners end, and
    /// runners that run out of calls from now on end instead of parking.
    func stop() {
        loop.assertInLoop("CallRunners.stop")
        lockUnlessLoop()
        stopped = true
        let ending = parked
        parked.removeAll()
        unlockUnlessLoop()
        for runner in ending { runner.parked?.resume(returning: false); runner.parked = nil }
    }

    /// Loop thread: queues `assignment` for a runner, sending one unless one is on its way. The
    /// call must already be in its connection's table (a runner skips a call that is not:
    /// it ended while waiting). It runs when the executor next runs jobs: later in this loop
    /// iteration on the loop; for the handler threads, once the iteration's jobs are handed
    /// over (`HandlerPool.enqueue`).
    func start(_ assignment: Assignment) {
        loop.assertInLoop("CallRunners.start")
        if onLoop {
            waiting.append(assignment)
            sendSpareUnlessOnItsWay()
            return
        }
        // For the handler threads: one lock for the calls of this iteration, handed over with
        // its other jobs (and after the loop is done with each call's bookkeeping).
        staged.append(assignment)
        if staged.count == 1 { loop.atIterationEnd { [self] in publishStaged() } }
    }

    /// Loop thread: hands this iteration's calls to the handler threads' runners in one step,
    /// with a runner sent for each (their jobs go to the threads in one batch too). Not a chain of
    /// spares as on the loop: there a spare runs only once the runner before it yields the
    /// thread, but here it starts on another thread at once, takes a call, and sends the next,
    /// which cost a thread wake-up per call (scripts/bench-transport, 64 B x 64 pool calls: 0.94
    /// server sleeps per call against 0.05). A runner that finishes its call still takes the
    /// next waiting one, and the runner sent for that finds none and parks.
    private func publishStaged() {
        loop.assertInLoop("publishing staged calls")
        lock.lock()
        waiting.append(contentsOf: staged)
        lock.unlock()
        let count = staged.count
        staged.removeAll(keepingCapacity: true)
        for _ in 0..<count { sendRunner(asSpare: false) }
    }

    private func sendSpareUnlessOnItsWay() {
        lockUnlessLoop()
        let send = !spareOnItsWay
        if send { spareOnItsWay = true }
        unlockUnlessLoop()
        if send { sendRunner(asSpare: true) }
    }

    /// Wakes a parked runner, or creates one: the spare (`spareOnItsWay` is already set) on the
    /// loop, one per call on the handler threads (from the loop thread, or from a retiring runner).
    private func sendRunner(asSpare: Bool) {
        runnersSent.add(1, ordering: .relaxed)
        while true {
            lockUnlessLoop()
            guard let runner = parked.popLast() else { break }
            unlockUnlessLoop()
            guard let continuation = runner.parked, let task = runner.task else { continue }
            runner.parked = nil
            // Cancelled after its call ended and it parked (a cancel that lost the race to the answer).
            guard !task.isCancelled else { continuation.resume(returning: false); continue }
            runner.isSpare = asSpare
            continuation.resume(returning: true)
            return
        }
        // Still locked: the new runner cannot take a call before its `task` is set.
        runnersCreated.add(1, ordering: .relaxed)
        let runner = Runner()
        runner.isSpare = asSpare
        runner.task = Task(executorPreference: executor) { [self] in await serve(runner) }
        unlockUnlessLoop()
    }

    /// The next waiting call and the runner's Task (to record with the call), or nil when
    /// none waits. Sends a spare when calls still wait after this one.
    private func take(_ runner: Runner) -> (Assignment?, Task<Void, Never>?)? {
        lockUnlessLoop()
        if runner.isSpare {
            runner.isSpare = false
            spareOnItsWay = false
        }
        guard waitingHead < waiting.count else {
            unlockUnlessLoop()
            return nil
        }
        let next = waiting[waitingHead].take()
        waitingHead += 1
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        }
        let send = onLoop && waitingHead < waiting.count && !spareOnItsWay   // see publishStaged
        if send { spareOnItsWay = true }
        let task = runner.task
        unlockUnlessLoop()
        if send { sendRunner(asSpare: true) }
        return (next, task)
    }

    private func serve(_ runner: Runner) async {
        while true {
            while case let (taken, task)? = take(runner) {
                // Ended while waiting (cancel, deadline, closed): skipped, never run.
                guard let assignment = taken, assignment.connection.begin(assignment.context.callID, task) else { continue }
                // A runner's Task is cancelled only with the call it runs, which then has ended
                // when its handler finishes (`run` says so): only then is `Task.isCancelled`
                // asked (per call, its retain and release were ~2% of a non-blocking call's
                // server CPU in perf).
                if await Self.run(assignment) == false, Task.isCancelled { return retire(runner) }
            }
            if Task.isCancelled { return retire(runner) }
            guard await park(runner) else { return }
        }
    }

    /// False: the call had ended before its handler finished (see `ServerConnection.run`).
    private nonisolated(nonsending) static func run(_ assignment: Assignment) async -> Bool {
        await assignment.connection.run(assignment.work, assignment.context)
    }

    /// A cancelled runner ends: calls still waiting get a spare on the loop, and on the handler
    /// threads a runner in its place (it may have been the one sent for a waiting call, and
    /// cancelled after it was sent: a cancel that lost the race to its previous call's answer).
    private func retire(_ runner: Runner) {
        lockUnlessLoop()
        if runner.isSpare {
            runner.isSpare = false
            spareOnItsWay = false
        }
        let send = waitingHead < waiting.count && !(onLoop && spareOnItsWay)
        if send && onLoop { spareOnItsWay = true }
        unlockUnlessLoop()
        if send { sendRunner(asSpare: onLoop) }
    }

    /// Parks until a call needs a runner (true) or the runners stop or enough are parked (false: end).
    private nonisolated(nonsending) func park(_ runner: Runner) async -> Bool {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Bool, Never>) in
            lockUnlessLoop()
            enum Next { case park, takeWaiting, end }
            let next: Next = stopped ? .end
                : waitingHead < waiting.count ? .takeWaiting   // came in since it last looked
                : parked.count < Self.maxParked ? .park : .end
            if next == .park {
                runner.parked = continuation
                parked.append(runner)
            }
            unlockUnlessLoop()
            switch next {
            case .park: break
            case .takeWaiting: continuation.resume(returning: true)
            case .end: continuation.resume(returning: false)
            }
        }
    }
}
