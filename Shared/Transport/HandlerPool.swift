import Foundation
import Synchronization

/// The threads that run handlers that may block (every handler not registered non-blocking), as
/// a Swift `TaskExecutor`: a handler's Task prefers it, so its jobs and the continuations it
/// resumes from (answers read by the loop) run here.
///
/// Handing work over costs a wake only per batch, not per call: jobs the loop thread enqueues
/// during one iteration (the requests one read delivered, the answers that resume waiting
/// handlers) are staged without a lock and published when the iteration ends, under one lock,
/// waking at most one idle thread per job. A thread runs jobs back to back while any are queued
/// and sleeps only when none are. It takes one job at a time, so a long handler (a solve, a
/// forward pass) holds up only its own thread.
///
/// A thread that runs out of jobs after a lone one first looks for more for a moment
/// (`spinWindowNanos`; one thread at a time) before it sleeps: a call that comes right after the
/// last one's answer (a client waiting on each answer) then needs no wake-up, which cost more
/// CPU than the call.
///
/// Bounded, as Swift's cooperative pool is (one thread per core by default), but apart from it:
/// handlers that block do not starve the tasks of the rest of the process, nor they them.
final class HandlerPool: TaskExecutor, @unchecked Sendable {
    static let shared = HandlerPool(threads: defaultThreads(), loop: .shared)

    let threadCount: Int
    private let loop: EventLoop
    private let condition = NSCondition()
    private var queued: [UnownedJob] = []   // guarded by condition
    private var head = 0                    // next job in `queued`; guarded by condition
    private var idle = 0                    // threads waiting for work; guarded by condition
    private var spinning = 0                // threads looking for work before they sleep (0 or 1); guarded by condition
    /// Jobs published and not yet taken: `queued.count - head`, readable without the lock.
    private let available = Atomic<Int>(0)
    /// How long a thread out of jobs looks for more before it sleeps. About a loopback round
    /// trip on the loaded 2-core dev machine (scripts/bench-transport: 64 B pool calls p50
    /// 25-60 us); a sleep and a wake cost the server about 35 us of CPU per call there (43 us
    /// per pool call against 8 us per non-blocking one, 1 in flight), so looking this long
    /// costs no more than the wake-up it saves. It yields the core while it looks.
    static let spinWindowNanos: UInt64 = 50_000
    private var staged: [UnownedJob] = []   // loop thread only: published at the iteration's end
    private var threadIDs: [pthread_t] = []   // guarded by condition

    init(threads: Int, loop: EventLoop) {
        threadCount = max(threads, 1)
        self.loop = loop
        for index in 0..<threadCount {
            let thread = Thread { [self] in work() }
            thread.name = "lattice-handlers-\(index)"
            thread.stackSize = 8 << 20   // handlers may recurse deeper than a default stack allows
            thread.start()
        }
    }

    /// LATTICE_HANDLER_THREADS, else one per core (at least 2, so one blocked handler does not
    /// stop every other).
    static func defaultThreads(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        if let text = environment["LATTICE_HANDLER_THREADS"], let value = Int(text), value > 0 { return value }
        return max(ProcessInfo.processInfo.activeProcessorCount, 2)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if loop.inLoopThread {
            staged.append(job)
            if staged.count == 1 { loop.atIterationEnd { [self] in publishStaged() } }
            return
        }
        publish(CollectionOfOne(job))
    }

    /// Loop thread: hands this iteration's jobs to the threads in one step.
    private func publishStaged() {
        loop.assertInLoop("publishing staged handler jobs")
        publish(staged)
        staged.removeAll(keepingCapacity: true)
    }

    private func publish<Jobs: Collection<UnownedJob>>(_ jobs: Jobs) {
        condition.lock()
        queued.append(contentsOf: jobs)
        available.add(jobs.count, ordering: .releasing)
        // A thread looking for work takes one without a wake-up (it checks again under the
        // lock before it sleeps, so no job is left behind).
        let wakes = min(idle, max(jobs.count - spinning, 0))
        condition.unlock()
        // After unlocking: a woken thread then finds the lock free instead of sleeping on it again.
        for _ in 0..<wakes { condition.signal() }
    }

    /// Waits up to `spinWindowNanos` for a job to be published, yielding the core meanwhile.
    private func lookForWork() {
        let start = DispatchTime.now().uptimeNanoseconds
        while available.load(ordering: .acquiring) == 0 && DispatchTime.now().uptimeNanoseconds - start < Self.spinWindowNanos {
            sched_yield()
        }
    }

    /// Whether the caller runs on one of the pool's threads (tests, assertions).
    var isCurrent: Bool {
        let me = pthread_self()
        return condition.withLock { threadIDs.contains { pthread_equal($0, me) != 0 } }
    }

    private func work() {
        condition.lock()
        threadIDs.append(pthread_self())
        var jobsSinceRest = 0   // jobs this thread ran since it last slept or looked for work
        while true {
            while head == queued.count {
                queued.removeAll(keepingCapacity: true)
                head = 0
                // Only after a lone job (a client waiting on each answer): after a run of several
                // (pipelined calls) the next batch costs at most one wake-up, and a thread that
                // looked would take the cores the loop and the callers need.
                if jobsSinceRest == 1 && spinning == 0 {
                    jobsSinceRest = 0
                    spinning += 1
                    condition.unlock()
                    lookForWork()
                    condition.lock()
                    spinning -= 1
                    continue
                }
                jobsSinceRest = 0
                idle += 1
                condition.wait()
                idle -= 1
            }
            let job = queued[head]
            head += 1
            available.subtract(1, ordering: .relaxed)
            jobsSinceRest += 1
            if head >= 4096 && head * 2 >= queued.count {   // never empty under load: compact now and then
                queued.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
            condition.lock()
        }
    }
}
