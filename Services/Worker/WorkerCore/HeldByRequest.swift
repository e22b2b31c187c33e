import Foundation

/// A value per request kept while the request holds KV on this stage (worker-service keeps each
/// looping request's route here), safe to use from many Forward handlers at once.
///
/// A value is reserved before its request is admitted to the stage (once admitted, its first
/// step may run and loop back before the handler returns, and must find it) and marked admitted
/// after. Values whose release never came (a scheduler gone, a failed step discarded here) would
/// pile up, so once there are many the admitted ones whose request the stage no longer holds are
/// dropped. That check must not drop a value another handler is admitting meanwhile: a snapshot of
/// the held requests taken before that admission lacks it. So a value not yet admitted is never
/// checked, and an admitted one only against a snapshot taken after its admission (session 11:
/// 129 of ~7000 single24 requests stalled for the 60 s step timeout when live routes were dropped).
public final class HeldByRequest<Value: Sendable>: @unchecked Sendable {
    /// `admitted`: the serial of the admission, nil while the request is being admitted.
    private struct Kept { var value: Value; var admitted: UInt64? }
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

    /// Keeps `entries` before their requests are admitted; call `admit` once they are, or
    /// `forget` if they are refused.
    public func reserve(_ entries: [(id: String, value: Value)]) {
        guard !entries.isEmpty else { return }
        lock.withLock { for entry in entries { values[entry.id] = Kept(value: entry.value, admitted: nil) } }
    }

    /// Marks `ids` admitted (their requests hold KV here now). When a check is due, drops the
    /// admitted values whose request `isHeld` (the requests the stage holds now, called without
    /// the lock) does not name.
    public func admit(_ ids: [String], isHeld: () -> Set<String>) {
        let checkBefore = lock.withLock { () -> UInt64? in
            for id in ids where values[id] != nil {
                values[id]?.admitted = serial
                serial += 1
            }
            return values.count > pruneAbove ? serial : nil
        }
        guard let checkBefore else { return }
        // Every value admitted before `checkBefore` is in this snapshot unless released since.
        let held = isHeld()
        lock.withLock {
            values = values.filter { entry in
                guard let admitted = entry.value.admitted, admitted < checkBefore else { return true }
                return held.contains(entry.key)
            }
            pruneAbove = max(minimumPruneAbove, 2 * values.count)
        }
    }

    public func forget(_ ids: [String]) {
        lock.withLock { for id in ids { values[id] = nil } }
    }
}
