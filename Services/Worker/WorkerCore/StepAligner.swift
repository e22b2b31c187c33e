import Foundation
import Synchronization

/// Keeps requests that decode in a loop among the workers in step, so that each hop sends one
/// Forward per step for all of them. Requests that started at different times circle the loop
/// apart, in groups, each its own Forward at every hop; nothing pulls the groups together. So
/// a batch about to run waits for the requests that trail it by less than half a lap (they
/// are due within half a lap): the trailing group joins it, and in a lap or two all are in step.
/// Waiting only for those behind (not those ahead) keeps two groups from waiting for each other.
public final class StepAligner: Sendable {
    /// When each looping request last left this hop.
    private let lastPass = Mutex([String: Date]())
    /// The longest a batch waits, so a stalled request cannot hold the others up for long.
    public let maxWait: Double

    public init(maxWait: Double = 0.1) { self.maxWait = maxWait }

    /// A batch ran: the requests in it that will come back passed now; the others are done here.
    public func passed(_ batch: [(id: String, comesBack: Bool)], at now: Date = Date()) {
        lastPass.withLock { last in
            for request in batch { last[request.id] = request.comesBack ? now : nil }
        }
    }

    /// The requests worth waiting for before running `pending` now, and until when: those held
    /// here (`isHeld`), not pending, that left less than half a lap after the earliest pending
    /// one did. Nil when there is none.
    public func stragglers(pending: [String], isHeld: (String) -> Bool, now: Date = Date()) -> (ids: Set<String>, until: Date)? {
        lastPass.withLock { last in
            last = last.filter { isHeld($0.key) }
            guard let lead = pending.compactMap({ last[$0] }).min() else { return nil }
            let lap = now.timeIntervalSince(lead)
            let waiting = Set(pending)
            let behind = last.filter { !waiting.contains($0.key) && $0.value > lead && $0.value.timeIntervalSince(lead) <= lap / 2 }
            guard !behind.isEmpty else { return nil }
            return (Set(behind.keys), now.addingTimeInterval(min(lap / 2, maxWait)))
        }
    }
}
