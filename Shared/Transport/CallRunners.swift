import Foundation
import Synchronization

/// Long-lived Tasks that run a server's calls, one call at a time each, on one executor (the
/// loop for non-blocking handlers, the handler threads for the others). A runner that finished
/// its call parks on a continuation; the next call resumes it instead of creating a Task of its
/// own (on the loop thread, on the latency path of a handler-thread call). A runner whose call suspends (it
/// awaits something) stays with that call; the next call takes another runner, or a new one.
/// A runner's Task is what cancelling its call cancels: a cancelled runner finishes its call
/// and ends, never to be handed another (cancellation cannot be undone).
///
/// Each server has its own two sets (its calls only: a server's shutdown ends its parked
/// runners). Calls are handed out on the loop thread only (`ServerConnection.start`); runners
/// park on their executor's threads, so the parked list takes a lock unless that executor is the loop.
final class CallRunners: @unchecked Sendable {
    /// What one call runs: its connection's `run` with the request already in hand.
    struct Assignment: Sendable {
        let connection: ServerConnection
        let work: Handler.Work
        let context: CallContext
    }

    private final class Runner: @unchecked Sendable {
        var task: Task<Void, Never>?
        /// The first call, handed over with the Task (not captured: its closure lives as long as the Task).
        var first: Assignment?
        /// Set while parked: resumed with the next call, or nil to end.
        var parked: UnsafeContinuation<Assignment?, Never>?
    }

    /// The most runners kept parked. A parked one costs a Task and its first allocator slab
    /// (about 1 KiB); 256 cover the bench's 64 pipelined calls a few times over, and a burst
    /// past it only creates Tasks, as every call did before runners.
    static let maxParked = 256

    private let executor: any TaskExecutor
    private let loop: EventLoop
    /// The executor is the loop itself: runners park on the loop thread, no lock needed.
    private let onLoop: Bool
    /// Runners (Tasks) created so far: calls that found none parked.
    let runnersCreated = Atomic<Int>(0)
    private let lock = NSLock()
    private var parked: [Runner] = []   // guarded by lock unless onLoop (then loop thread only)
    private var stopped = false         // as `parked`

    private init(executor: any TaskExecutor, loop: EventLoop, onLoop: Bool) {
        self.executor = executor
        self.loop = loop
        self.onLoop = onLoop
    }

    /// Runners for non-blocking handlers, on `loop`.
    static func onLoop(_ loop: EventLoop) -> CallRunners { CallRunners(executor: loop, loop: loop, onLoop: true) }
    /// Runners for handlers that may block, on the handler threads.
    static func onHandlerThreads(_ pool: HandlerPool, loop: EventLoop) -> CallRunners { CallRunners(executor: pool, loop: loop, onLoop: false) }

    /// Loop thread, once no call is left (the server shut down): parked runners end, and
    /// runners that finish a call from now on end instead of parking.
    func stop() {
        loop.assertInLoop("CallRunners.stop")
        if !onLoop { lock.lock() }
        stopped = true
        let ending = parked
        parked.removeAll()
        if !onLoop { lock.unlock() }
        for runner in ending { runner.parked?.resume(returning: nil); runner.parked = nil }
    }

    /// Loop thread: runs `assignment` on a parked runner, or a new one; returns the Task it runs
    /// in (cancel it to cancel the call). Its first step runs when the executor next runs jobs:
    /// later in this loop iteration on the loop; for the handler threads, once the iteration's
    /// jobs are handed over (`HandlerPool.enqueue`).
    func start(_ assignment: Assignment) -> Task<Void, Never> {
        loop.assertInLoop("CallRunners.start")
        while let runner = takeParked() {
            guard let continuation = runner.parked, let task = runner.task else { continue }
            runner.parked = nil
            // Cancelled after its call ended and it parked (a cancel that lost the race to the answer).
            guard !task.isCancelled else { continuation.resume(returning: nil); continue }
            continuation.resume(returning: assignment)
            return task
        }
        runnersCreated.add(1, ordering: .relaxed)
        let runner = Runner()
        runner.first = assignment
        let task = Task(executorPreference: executor) { [self] in await serve(runner) }
        runner.task = task
        return task
    }

    private func takeParked() -> Runner? {
        if onLoop { return parked.popLast() }
        lock.lock()
        defer { lock.unlock() }
        return parked.popLast()
    }

    private func serve(_ runner: Runner) async {
        var next = runner.first
        runner.first = nil
        while let assignment = next {
            next = nil
            await Self.run(consume assignment)   // no call kept alive while parked
            guard !Task.isCancelled else { return }
            next = await park(runner)
        }
    }

    private static func run(_ assignment: consuming Assignment) async {
        await assignment.connection.run(assignment.work, assignment.context)
    }

    private func park(_ runner: Runner) async -> Assignment? {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Assignment?, Never>) in
            if onLoop { loop.assertInLoop("parking a loop runner") } else { lock.lock() }
            let kept = !stopped && parked.count < Self.maxParked
            if kept {
                runner.parked = continuation
                parked.append(runner)
            }
            if !onLoop { lock.unlock() }
            if !kept { continuation.resume(returning: nil) }
        }
    }
}
