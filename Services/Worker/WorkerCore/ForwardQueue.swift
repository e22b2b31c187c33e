import Foundation
import PlacementCore

/// A Forward slice admitted by the stage, with its stage id and whatever the caller needs to
/// send its output on (the service keeps its wire item there).
public struct AcceptedSlice<Tag: Sendable>: Sendable {
    public var slice: ForwardSlice
    public var id: UInt64
    public var tag: Tag
}

/// Admitted slices waiting for a batch, oldest first. The batch loop can sleep until the next
/// append (or a time limit) instead of polling.
final class ForwardQueue<Tag: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [AcceptedSlice<Tag>] = []
    private var appends: UInt64 = 0
    private var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
    private var waits: UInt64 = 0

    var requestIDs: [String] { lock.withLock { items.map(\.slice.requestID) } }

    /// Appends so far: pass it to `waitForAppend(after:until:)` to miss none in between.
    var appendCount: UInt64 { lock.withLock { appends } }

    func append(_ new: [AcceptedSlice<Tag>]) {
        let woken = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            items += new
            appends += 1
            defer { waiter = nil }
            return waiter?.continuation
        }
        woken?.resume()
    }

    /// Returns once an append has come after the `seen`-th, or at `deadline`. One waiter at a
    /// time (the batch loop).
    func waitForAppend(after seen: UInt64, until deadline: ContinuousClock.Instant) async {
        let id = lock.withLock { waits += 1; return waits }
        // Strong: the timer is cancelled as soon as the wait ends, so it holds the queue no longer
        // (a weak capture made a side table LeakSanitizer reported at exit).
        let timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            self.wake(id)
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = lock.withLock { () -> Bool in
                // The timer checks the waiter after the deadline: a registration after it must not wait.
                guard appends == seen, ContinuousClock.now < deadline else { return true }
                waiter = (id, continuation)
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
    }

    private func wake(_ id: UInt64) {
        let woken = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            guard let waiter, waiter.id == id else { return nil }
            self.waiter = nil
            return waiter.continuation
        }
        woken?.resume()
    }

    /// Oldest items up to `maxTokens` tokens (at least one unless `maxTokens` is 0, so that no
    /// item is stuck), and apart from them every item longer than `longerThan`: those are
    /// prefilled in chunks. A prompt or decode step over `caps` waits for a later batch without
    /// holding up the items behind it (as the simulator's batches are formed); past the token
    /// budget the rest waits in order.
    func take(maxTokens: Int, longerThan limit: Int, caps: BatchCaps = .unlimited) -> (batch: [AcceptedSlice<Tag>], long: [AcceptedSlice<Tag>]) {
        lock.withLock {
            let long = items.filter { $0.slice.tokenCount > limit }
            // The rule the simulator forms its batches by (`BatchLimits`).
            let rule = BatchLimits(prompts: caps.prompts, decodes: caps.decodes, tokens: maxTokens)
            let (batch, rest) = rule.split(items.filter { $0.slice.tokenCount <= limit }, tokens: \.slice.tokenCount,
                                           isPrompt: { !$0.slice.isDecode }, context: { Int($0.slice.positions.first ?? 0) })
            items = rest
            return (batch, long)
        }
    }
}
