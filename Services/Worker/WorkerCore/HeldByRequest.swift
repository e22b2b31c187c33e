import Foundation

/// A value per request kept while the request holds KV on this stage (worker-service keeps each
/// looping request's route here), safe to use from many Forward handlers at once.
///
/// Values whose release never came (a scheduler gone, a failed step discarded here) would pile
/// up, so once there are many the ones whose request this stage no longer holds are dropped.
/// That check must not drop a value kept by another handler in the meantime: a handler admits its
/// request to the stage and then keeps its value, so a snapshot of the held requests taken
/// before that admission lacks it. Only values kept before the snapshot are checked against it;
/// dropping a newer one loses a live request's route, and its next step is refused with nothing
/// to answer (session 11: 129 of ~7000 single24 requests stalled for the 60 s step timeout so).
public final class HeldByRequest<Value: Sendable>: @unchecked Sendable {
    private struct Kept { var value: Value; var serial: UInt64 }
    private let lock = NSLock()
    private var values: [String: Kept] = [:]
    private var serial: UInt64 = 0
    private var pruneAbove: Int
    private let minimumPruneAbove: Int

    /// - Parameter pruneAbove: how many values may be kept before the first check against the
    ///   held requests; after each check the bound is twice what remained (at least this), so a
    ///   stage that legitimately holds thousands of requests is not scanned on every Forward.
    public init(pruneAbove: Int = 256) {
        self.pruneAbove = max(1, pruneAbove)
        minimumPruneAbove = max(1, pruneAbove)
    }

    public var count: Int { lock.withLock { values.count } }

    public func value(_ id: String) -> Value? { lock.withLock { values[id]?.value } }

    /// Keeps `entries`; `isHeld` names the requests the stage holds now (called without the lock,
    /// only when a check is due).
    public func keep(_ entries: [(id: String, value: Value)], isHeld: () -> Set<String>) {
        guard !entries.isEmpty else { return }
        let checkBefore = lock.withLock { () -> UInt64? in
            for entry in entries {
                values[entry.id] = Kept(value: entry.value, serial: serial)
                serial += 1
            }
            return values.count > pruneAbove ? serial : nil
        }
        guard let checkBefore else { return }
        // Every value kept before `checkBefore` was admitted to the stage before this snapshot.
        let held = isHeld()
        lock.withLock {
            values = values.filter { held.contains($0.key) || $0.value.serial >= checkBefore }
            pruneAbove = max(minimumPruneAbove, 2 * values.count)
        }
    }

    public func forget(_ ids: [String]) {
        lock.withLock { for id in ids { values[id] = nil } }
    }
}
