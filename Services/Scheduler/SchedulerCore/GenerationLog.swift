import Wire

/// Generate streams by request id, so that a client retrying an id (its connection dropped)
/// gets that generation's result instead of starting a second one: it attaches to the run in
/// flight (every event from the start, then the live ones), or, for a while after the run
/// finished, gets its events again from a bounded cache. The client skips what it already has.
final class GenerationLog: Sendable {
    /// How long and how much of finished runs is kept for retries.
    struct Retention: Sendable {
        var seconds = 60.0
        var runs = 1024
        var events = 65_536
    }

    typealias Events = AsyncThrowingStream<GenerateEvent, Error>

    private struct Run {
        let request: [UInt8]          // the request as encoded: a retry must ask for the same thing
        let owner: String?            // the API key id that started it (nil: the cluster secret)
        var events: [GenerateEvent] = []
        var listeners: [UInt64: Events.Continuation] = [:]
        var finishedAt: ContinuousClock.Instant?
    }
    private struct State {
        var runs: [String: Run] = [:]
        var finished: [String] = []   // oldest first
        var finishedEvents = 0
        var nextListener: UInt64 = 0
    }
    private let state = Protected(State())
    let retention: Retention

    init(retention: Retention = Retention()) { self.retention = retention }

    /// A listener on request `id`'s events; `isNew` when no run has this id (the caller must
    /// start it). `admit` runs only then, under the log's lock (two retries of one id cannot both
    /// start a run), and may refuse the run by throwing. Throws ALREADY_EXISTS when the id names
    /// a different request, PERMISSION_DENIED when another API key started it (`owner`: the
    /// caller's key id; nil, the cluster secret, may join any run).
    func join(_ id: String, request: [UInt8], owner: String? = nil, now: ContinuousClock.Instant = .now,
              admit: () throws -> Void = {}) throws -> (events: Events, listener: UInt64, isNew: Bool) {
        let (events, continuation) = Events.makeStream()
        let (listener, isNew) = try state.withLock { s -> (UInt64, Bool) in
            expire(&s, now: now)
            guard var run = s.runs[id] else {
                try admit()
                s.nextListener += 1
                var run = Run(request: request, owner: owner)
                run.listeners[s.nextListener] = continuation
                s.runs[id] = run
                return (s.nextListener, true)
            }
            guard owner == nil || run.owner == owner else {
                throw Status(.permissionDenied, "Generate: request id '\(id)' was started by another API key; only its own key may retry it")
            }
            guard run.request == request else {
                throw Status(.alreadyExists, "Generate: request id '\(id)' names another request (in flight or finished in the last \(Int(retention.seconds)) s); a retry must repeat the request unchanged, a new request needs a new id")
            }
            s.nextListener += 1
            for event in run.events { continuation.yield(event) }
            if run.finishedAt != nil { continuation.finish() } else { run.listeners[s.nextListener] = continuation }
            s.runs[id] = run
            return (s.nextListener, false)
        }
        return (events, listener, isNew)
    }

    /// Records an event of the run and hands it to every listener.
    func publish(_ id: String, _ event: GenerateEvent) {
        let listeners = state.withLock { s -> [Events.Continuation] in
            s.runs[id]?.events.append(event)
            return s.runs[id].map { Array($0.listeners.values) } ?? []
        }
        for listener in listeners { listener.yield(event) }
    }

    /// Ends the run: its listeners' streams finish (throwing `error` if given). A run that
    /// finished is kept for retries; one that failed before its first event is forgotten, so a
    /// retry starts afresh.
    func end(_ id: String, error: Error? = nil, now: ContinuousClock.Instant = .now) {
        let listeners = state.withLock { s -> [Events.Continuation] in
            guard var run = s.runs[id] else { return [] }
            let listeners = Array(run.listeners.values)
            if error != nil {
                s.runs[id] = nil
            } else {
                run.listeners = [:]
                run.finishedAt = now
                s.runs[id] = run
                s.finished.append(id)
                s.finishedEvents += run.events.count
                expire(&s, now: now)
            }
            return listeners
        }
        for listener in listeners { listener.finish(throwing: error) }
    }

    /// Removes a listener; true when the run is still going and nobody listens any more.
    func leave(_ id: String, listener: UInt64) -> Bool {
        state.withLock { s in
            guard s.runs[id]?.finishedAt == nil, s.runs[id]?.listeners.removeValue(forKey: listener) != nil else { return false }
            return s.runs[id]?.listeners.isEmpty ?? false
        }
    }

    /// Whether the run is in flight with nobody listening.
    func isAbandoned(_ id: String) -> Bool {
        state.withLock { s in s.runs[id].map { $0.finishedAt == nil && $0.listeners.isEmpty } ?? false }
    }

    /// Finished runs kept, and their events (for tests and stats).
    var cached: (runs: Int, events: Int) { state.withLock { ($0.finished.count, $0.finishedEvents) } }

    /// Drops finished runs past the retention's age, count or events, oldest first.
    private func expire(_ s: inout State, now: ContinuousClock.Instant) {
        var dropped = 0
        while dropped < s.finished.count {
            let id = s.finished[dropped]
            guard let run = s.runs[id], let at = run.finishedAt else { dropped += 1; continue }
            let old = ClusterState.seconds(now - at) > retention.seconds
            guard old || s.finished.count - dropped > retention.runs || s.finishedEvents > retention.events else { break }
            s.finishedEvents -= run.events.count
            s.runs[id] = nil
            dropped += 1
        }
        s.finished.removeFirst(dropped)
    }
}
