import Client
import Foundation
import Wire

/// What each worker did in `lattice load`'s window, from its worker/Stats at the window's opening
/// and closing (cumulative figures, differenced): the share of the time between the two it
/// computed (the time its stage reports, an emulated GPU's profile time; the span is the worker's
/// own uptime between the answers, as a busy load process may ask late), its mean batch in tokens,
/// and at the close its queue and KV fill. Set beside the simulator's per-node figures by
/// scripts/bench-serving.
final class WorkerWindow: @unchecked Sendable {
    struct Snapshot { var uptime = 0.0, busy = 0.0, wall = 0.0, batches = 0.0, tokens = 0.0, decodes = 0.0, queued = 0.0, kvUsed = 0.0, kvCapacity = 0.0, start = 0.0, end = 0.0 }
    private let workers: [(name: String, client: ServiceClient)]
    private let lock = NSLock()
    private var opened: [String: Snapshot] = [:], closed: [String: Snapshot] = [:]
    private var tasks: [Task<Void, Never>] = []

    init(workers: [(name: String, client: ServiceClient)]) { self.workers = workers }

    /// Takes every worker's figures now, in the background (`report` waits for them).
    func mark(_ opening: Bool) {
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for (name, client) in workers {
                    group.addTask {
                        guard let stats = try? await client.stats(.worker) else { return }
                        let figure = Dictionary(stats.extra.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
                        let snapshot = Snapshot(uptime: Double(stats.uptimeMs) / 1000, busy: figure["busy_seconds"] ?? 0, wall: figure["step_wall_seconds"] ?? 0, batches: figure["batches"] ?? 0, tokens: figure["batch_tokens"] ?? 0,
                                                decodes: figure["batch_decodes"] ?? 0,
                                                queued: figure["queued_items"] ?? 0, kvUsed: figure["kv_used_entries"] ?? 0,
                                                kvCapacity: figure["kv_capacity_entries"] ?? 0, start: figure["layers_start"] ?? 0, end: figure["layers_end"] ?? 0)
                        self.lock.withLock { if opening { self.opened[name] = snapshot } else { self.closed[name] = snapshot } }
                    }
                }
            }
        }
        lock.withLock { tasks.append(task) }
    }

    /// One object per worker that answered at both marks, in name order.
    func report() async -> [[String: Any]] {
        for task in lock.withLock({ tasks }) { await task.value }
        for (_, client) in workers { await client.close() }
        return lock.withLock {
            closed.keys.sorted { $0.compare($1, options: .numeric) == .orderedAscending }.compactMap { name -> [String: Any]? in
                guard let a = opened[name], let b = closed[name], b.uptime > a.uptime else { return nil }
                let batches = b.batches - a.batches
                return ["name": name, "layers": "[\(Int(b.start)),\(Int(b.end)))", "utilisation": (b.busy - a.busy) / (b.uptime - a.uptime),
                        "measured_seconds": b.uptime - a.uptime,
                        // The same share by the wall clock: above "utilisation" by what the host added to the steps.
                        "wall_utilisation": (b.wall - a.wall) / (b.uptime - a.uptime),
                        "mean_batch_tokens": batches > 0 ? (b.tokens - a.tokens) / batches : 0,
                        "mean_batch_decodes": batches > 0 ? (b.decodes - a.decodes) / batches : 0,
                        "batches_per_s": batches / (b.uptime - a.uptime), "queued_at_close": b.queued,
                        "kv_fill_at_close": b.kvCapacity > 0 ? b.kvUsed / b.kvCapacity : 0]
            }
        }
    }
}
