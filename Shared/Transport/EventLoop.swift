import CLibUV
import Foundation
import Synchronization

/// A libuv loop, running on a thread of its own: the process's shared one (`shared`: every
/// client connection, and servers' first loop), and the extra loops of a server that asked for
/// several (`TransportConfig.serverLoops`), each stopped with its server. Everything that
/// touches a loop's libuv handles runs on its thread. It is also a Swift `TaskExecutor`: a task that
/// prefers it (`withTaskExecutorPreference(TransportLoop.executor)`, or a handler registered as
/// non-blocking) runs its jobs here, and a continuation such a task waits on that the loop
/// resumes (an answer read from a socket) runs in the same loop iteration, with no thread hop.
///
/// Work submitted from the loop thread itself goes on a local queue, drained before the loop
/// next blocks (no lock, no system call). Other threads append under a lock and wake the loop
/// through a pipe it polls, but only when it may be blocked in poll: while it is running, what
/// they append is picked up before it next blocks (no system call for either side). (Not uv_async: its loop side spins while a sender is between its two
/// atomic steps, and on a busy machine that burnt ~15% of the CPU.) Nothing on this thread may
/// block: blocking work belongs on the handler threads (`HandlerPool`) or a `WorkPool`.
public final class EventLoop: @unchecked Sendable {
    static let shared = EventLoop()

    /// A unit of work: a closure (`execute`) or a Swift job (the executor's `enqueue`).
    private enum Work {
        case closure(@Sendable () -> Void)
        case job(UnownedJob)
    }

    let uv: UnsafeMutablePointer<uv_loop_t>
    private let wakeup: UnsafeMutablePointer<uv_poll_t>
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// Used only if no pipe could be made (out of file descriptors at start-up).
    private let fallbackWakeup: UnsafeMutablePointer<uv_async_t>
    private let lock = NSLock()
    private var queued: [Work] = []      // from other threads; guarded by lock
    /// The loop took its last look at `queued` before polling and has not yet come back from the
    /// poll: work from other threads must wake it. Guarded by lock.
    private var mayBePolling = false
    /// A wake-up is on its way (written and not yet read): no second one is needed. Guarded by lock.
    private var wakePending = false
    private var local: [Work] = []       // from the loop thread itself (loop thread only)
    private var running: [Work] = []     // being run (loop thread only)
    /// The thread that runs this loop's work: its own, or, once it has stopped, the shared
    /// loop's (`finishStopping`). Atomic: other threads read it in `submit`.
    private let threadID = Atomic<UInt>(0)
    /// Stopped: work submitted from now on goes to the shared loop (see `stop`).
    private let stopped = Atomic<Bool>(false)
    private var stopRequested = false   // loop thread only
    private var stopWaiters: [@Sendable () -> Void] = []   // loop thread only
    private var loopClosed = false   // set by the loop thread as it ends
    private let beforePoll: UnsafeMutablePointer<uv_prepare_t>
    private let afterPoll: UnsafeMutablePointer<uv_check_t>
    /// Channels with frames queued since their last write (loop thread only). They are written
    /// once per loop iteration, so frames queued by many callbacks leave in one system call.
    private var unflushed: [TCPChannel] = []
    /// Run once when this iteration's local work is done, before its writes (loop thread only).
    private var iterationEnd: [() -> Void] = []
    /// One read buffer for every socket: a read callback consumes it before returning.
    let readBuffer: UnsafeMutableRawBufferPointer
    static let readBufferBytes = 64 << 10

    /// Starts a loop on a thread named `name`. It runs until `stop` (the shared one, for the
    /// process's lifetime).
    init(name: String = "lattice-uv-loop") {
        signal(SIGPIPE, SIG_IGN)   // a peer that went away must not kill the process
        uv = .allocate(capacity: 1)
        uv_loop_init(uv)
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        wakeup = .allocate(capacity: 1)
        fallbackWakeup = .allocate(capacity: 1)
        if wakeRead >= 0 {
            uv_poll_init(uv, wakeup, wakeRead)
            uv_poll_start(wakeup, Int32(UV_READABLE.rawValue), eventLoopWakeup)
        } else {
            uv_async_init(uv, fallbackWakeup, eventLoopFallbackWakeup)
        }
        // 64 KiB: hundreds of small frames per read; a large frame's start (copied into its
        // decoder) costs at most this much before the rest is read straight into the decoder.
        readBuffer = .allocate(byteCount: Self.readBufferBytes, alignment: 16)
        // Run local work and flush queued writes after the I/O callbacks (check) and after
        // timers (prepare, which runs before the loop blocks in poll).
        beforePoll = .allocate(capacity: 1)
        uv_prepare_init(uv, beforePoll)
        uv_prepare_start(beforePoll, eventLoopBeforePoll)
        afterPoll = .allocate(capacity: 1)
        uv_check_init(uv, afterPoll)
        uv_check_start(afterPoll, eventLoopAfterPoll)
        wakeup.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        fallbackWakeup.pointee.data = wakeup.pointee.data
        beforePoll.pointee.data = wakeup.pointee.data
        afterPoll.pointee.data = wakeup.pointee.data
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            threadID.store(UInt(pthread_self()), ordering: .releasing)
            started.signal()
            uv_run(uv, UV_RUN_DEFAULT)   // the wake-up poll keeps it alive until `stop`
            finishStopping()
        }
        thread.name = name
        thread.start()
        started.wait()
    }

    deinit {
        if loopClosed { uv.deallocate() }
    }

    var inLoopThread: Bool { UInt(pthread_self()) == threadID.load(ordering: .relaxed) }

    /// Debug builds stop here when code that relies on the loop thread runs elsewhere.
    @inline(__always)
    func assertInLoop(_ what: @autoclosure () -> String = "", file: StaticString = #fileID, line: UInt = #line) {
        assert(inLoopThread, "\(what()) must run on the transport loop thread", file: file, line: line)
    }

    /// Runs `work` on the loop thread, soon and in submission order (per submitting thread).
    func execute(_ work: @escaping @Sendable () -> Void) {
        submit(.closure(work))
    }

    private func submit(_ work: Work) {
        if stopped.load(ordering: .acquiring) { return EventLoop.shared.submit(work) }
        if inLoopThread {
            local.append(work)   // drained before the loop next blocks
            return
        }
        lock.lock()
        if stopped.load(ordering: .relaxed) {   // stopped meanwhile: `finishStopping` has handed over `queued`
            lock.unlock()
            return EventLoop.shared.submit(work)
        }
        queued.append(work)
        let wakeNeeded = mayBePolling && !wakePending
        if wakeNeeded { wakePending = true }
        lock.unlock()
        if wakeNeeded { wake() }
    }

    private func wake() {
        if wakeWrite >= 0 {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)   // a full pipe already means "wake up"
        } else {
            uv_async_send(fallbackWakeup)
        }
    }

    /// Runs `work` on the loop thread and waits for its result. Never call it from the loop.
    func executeAndWait<T: Sendable>(_ work: @escaping @Sendable () -> T) -> T {
        precondition(!inLoopThread, "executeAndWait on the loop thread would wait forever")
        let done = DispatchSemaphore(value: 0)
        let result = Locked<T?>(nil)
        execute {
            let value = work()
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }

    /// Work handed over by other threads (the wake-up pipe fired).
    fileprivate func runQueued() {
        if wakeRead >= 0 {
            _ = read(wakeRead, readBuffer.baseAddress, 256)   // leftovers only cause a spurious wake-up
        }
        lock.lock()
        wakePending = false
        swap(&queued, &running)
        lock.unlock()
        runAll()
        runLocal()
    }

    /// Just before the loop polls: runs local work and what other threads queued meanwhile (they
    /// did not wake a running loop), a few rounds at most; then, from the last look at `queued`,
    /// other threads wake the loop. Work still queued then gets a wake-up now, so the poll
    /// returns at once (sockets are served in between, as for work that keeps yielding).
    fileprivate func beforePolling() {
        runLocal()
        for _ in 0..<4 {
            lock.lock()
            if queued.isEmpty {
                mayBePolling = true
                lock.unlock()
                return
            }
            swap(&queued, &running)
            lock.unlock()
            runAll()
            runLocal()
        }
        lock.lock()
        mayBePolling = true
        let wakeNeeded = !queued.isEmpty && !wakePending
        if wakeNeeded { wakePending = true }
        lock.unlock()
        if wakeNeeded { wake() }
    }

    /// Just after the poll (the check phase): the loop runs, so other threads need not wake it.
    fileprivate func afterPolling() {
        lock.lock()
        mayBePolling = false
        lock.unlock()
        runLocal()
    }

    /// Work the loop thread gave itself, including what that work submits in turn; then the
    /// writes it queued. Bounded, so a task that keeps yielding cannot starve the sockets: what
    /// is left after that goes to the cross-thread queue, which `beforePolling` looks at before
    /// the loop next blocks.
    fileprivate func runLocal() {
        var rounds = 0
        while !local.isEmpty {
            rounds += 1
            if rounds > 64 {
                lock.lock()
                queued.append(contentsOf: local)
                lock.unlock()
                local.removeAll(keepingCapacity: true)
                break
            }
            swap(&local, &running)
            runAll()
        }
        runIterationEnd()
        flushWrites()
        runIterationEnd()   // a write that failed may have closed a connection and cancelled its calls
    }

    private func runIterationEnd() {
        guard !iterationEnd.isEmpty else { return }
        let ends = iterationEnd
        iterationEnd.removeAll(keepingCapacity: true)
        for end in ends { end() }
    }

    /// Runs `body` once this iteration's local work is done (to hand over, in one step, work
    /// staged during it). Loop thread only.
    func atIterationEnd(_ body: @escaping () -> Void) {
        assertInLoop("atIterationEnd")
        iterationEnd.append(body)
    }

    private func runAll() {
        for work in running {
            switch work {
            case .closure(let body): body()
            case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
            }
        }
        running.removeAll(keepingCapacity: true)
    }

    /// Asks for `channel`'s queued frames to be written at the end of this loop iteration.
    func scheduleFlush(_ channel: TCPChannel) {
        assertInLoop("EventLoop.scheduleFlush")
        unflushed.append(channel)
    }

    private func flushWrites() {
        while !unflushed.isEmpty {
            let channels = unflushed
            unflushed.removeAll(keepingCapacity: true)
            for channel in channels { channel.flush() }
        }
    }

    /// Stops a loop that is not the shared one, from any thread: once the work already queued
    /// has run, its own handles close and its thread ends (`done` runs there, last). Whoever
    /// stops it must have closed everything else on it first (sockets, timers): libuv keeps a
    /// loop running while any handle is open. Work that arrives later (a Task that still prefers
    /// this loop, say) runs on the shared loop, which takes this loop's place as its thread.
    /// Stopping twice is harmless: `done` runs once this loop has stopped.
    func stop(_ done: @escaping @Sendable () -> Void) {
        precondition(self !== EventLoop.shared, "the shared transport loop runs for the process's lifetime")
        execute { [self] in
            if stopped.load(ordering: .acquiring) { return done() }   // run by the shared loop in its place
            stopWaiters.append(done)
            guard !stopRequested else { return }
            stopRequested = true
            uv_close(handlePointer(beforePoll), nil)
            uv_close(handlePointer(afterPoll), nil)
            if wakeRead >= 0 { uv_close(handlePointer(wakeup), nil) } else { uv_close(handlePointer(fallbackWakeup), nil) }
        }
    }

    /// On the loop's thread once `uv_run` returned (stopped): hands what is still queued and
    /// everything later to the shared loop, then frees the loop.
    private func finishStopping() {
        runLocal()   // work the last callbacks gave (their prepare/check phases are closed)
        lock.lock()
        stopped.store(true, ordering: .releasing)
        let late = queued + local
        queued.removeAll()
        local.removeAll()
        threadID.store(EventLoop.shared.threadID.load(ordering: .relaxed), ordering: .releasing)
        lock.unlock()
        for work in late { EventLoop.shared.submit(work) }
        // Freed in deinit, once nothing (a late Task's timer, say) can still reach it; if a
        // handle is still open the close fails and the loop stays allocated under it.
        loopClosed = uv_loop_close(uv) == 0
        for handle in [UnsafeMutableRawPointer(wakeup), UnsafeMutableRawPointer(fallbackWakeup),
                       UnsafeMutableRawPointer(beforePoll), UnsafeMutableRawPointer(afterPoll)] { handle.deallocate() }
        if wakeRead >= 0 { Foundation.close(wakeRead); Foundation.close(wakeWrite) }
        readBuffer.deallocate()
        let waiters = stopWaiters
        stopWaiters.removeAll()
        for done in waiters { done() }
    }

    /// Whether `stop` has finished: the loop's handles are closed and its thread is ending.
    var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Milliseconds of the loop's clock (cached per iteration, as libuv's timers see it).
    var now: UInt64 { uv_now(uv) }
}

/// Not also a `SerialExecutor`: a global actor on the loop (tried in session 14, to avoid the
/// runtime lock a task with an executor preference takes per switch) made callers slower. In
/// perf each of their calls resumed on a global-pool thread and switched back to the loop from
/// there: 2.3-3.6 µs of client CPU per pipelined call against 1.6-1.9 on this executor (loaded).
extension EventLoop: TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }
}

/// The transport's loop as a Swift executor. A task that prefers it
/// (`withTaskExecutorPreference(TransportLoop.executor) { ... }`) resumes from its calls' answers
/// in the loop iteration that read them, with no thread hop: for callers that only wait on the
/// network. Anything that blocks or computes for long must not run there (it stalls every socket
/// of the process).
public enum TransportLoop {
    public static var executor: any TaskExecutor { EventLoop.shared }
    /// Whether the caller runs on the loop thread (for assertions in code that relies on it).
    public static var isCurrent: Bool { EventLoop.shared.inLoopThread }
}

private func eventLoopWakeup(_ handle: UnsafeMutablePointer<uv_poll_t>?, _ status: Int32, _ events: Int32) {
    guard let data = handle?.pointee.data else { return }
    Unmanaged<EventLoop>.fromOpaque(data).takeUnretainedValue().runQueued()
}

private func eventLoopFallbackWakeup(_ handle: UnsafeMutablePointer<uv_async_t>?) {
    guard let data = handle?.pointee.data else { return }
    Unmanaged<EventLoop>.fromOpaque(data).takeUnretainedValue().runQueued()
}

private func eventLoopBeforePoll(_ handle: UnsafeMutablePointer<uv_prepare_t>?) {
    guard let data = handle?.pointee.data else { return }
    Unmanaged<EventLoop>.fromOpaque(data).takeUnretainedValue().beforePolling()
}

private func eventLoopAfterPoll(_ handle: UnsafeMutablePointer<uv_check_t>?) {
    guard let data = handle?.pointee.data else { return }
    Unmanaged<EventLoop>.fromOpaque(data).takeUnretainedValue().afterPolling()
}

/// A libuv error code as text a person can act on, e.g. "connection refused (ECONNREFUSED)".
func uvErrorText(_ code: Int32) -> String {
    "\(String(cString: uv_strerror(code))) (\(String(cString: uv_err_name(code))))"
}

func streamPointer(_ tcp: UnsafeMutablePointer<uv_tcp_t>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self)
}

func handlePointer<H>(_ handle: UnsafeMutablePointer<H>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
}
