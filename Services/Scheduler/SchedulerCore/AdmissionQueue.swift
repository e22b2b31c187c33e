/// Requests waiting for a route, first come first served, at most `limit` of them. An entry
/// leaves when admitted, when its client cancels, or when it is failed (it can never fit the
/// cluster, or no plan came in time) — never silently.
public struct AdmissionQueue<Waiter>: Sendable where Waiter: Sendable {
    public struct Entry: Sendable {
        public var key: String
        public var prompt: Int
        public var maxTokens: Int
        public var waiter: Waiter
    }

    public private(set) var entries: [Entry] = []
    public let limit: Int
    /// New requests turned away because the queue was full (a stat).
    public private(set) var refusals = 0

    public init(limit: Int = .max) { self.limit = max(1, limit) }

    public var count: Int { entries.count }
    public var isFull: Bool { entries.count >= limit }
    public var head: Entry? { entries.first }

    /// Adds a request at the back; false (and nothing added) when the queue is full, unless
    /// `evenIfFull` (a request already admitted once, being re-routed, is never refused).
    @discardableResult
    public mutating func append(key: String, prompt: Int, maxTokens: Int, waiter: Waiter, evenIfFull: Bool = false) -> Bool {
        guard evenIfFull || !isFull else { refusals += 1; return false }
        entries.append(Entry(key: key, prompt: prompt, maxTokens: maxTokens, waiter: waiter))
        return true
    }

    /// True, and counted as a refusal, when a new request would find the queue full.
    public mutating func refusesNewcomer() -> Bool {
        guard isFull else { return false }
        refusals += 1
        return true
    }

    /// 0 for the head.
    public func position(of key: String) -> Int? { entries.firstIndex { $0.key == key } }

    /// Removes and returns an entry (its client cancelled, or it was failed).
    public mutating func remove(_ key: String) -> Entry? {
        guard let index = position(of: key) else { return nil }
        return entries.remove(at: index)
    }

    /// Takes the head out (admitted or failed).
    @discardableResult
    public mutating func removeHead() -> Entry? { entries.isEmpty ? nil : entries.removeFirst() }
}

/// Why a queued request left the queue without a route.
public enum AdmissionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The queue holds `limit` requests already.
    case queueFull(limit: Int)
    /// Even an empty cluster under the current plan has no route for it (the cluster shrank).
    case neverFits(String)
    /// No plan covered the model within the wait allowed.
    case noPlan(waitedSeconds: Double, why: String)

    public var description: String {
        switch self {
        case .queueFull(let limit):
            return "the admission queue is full (\(limit) requests waiting, the scheduler's --queue-limit); retry later or raise the limit"
        case .neverFits(let why):
            return "RESOURCE_EXHAUSTED: no route of the current plan can take this request even with every worker empty (\(why)); ask for fewer tokens or add workers"
        case .noPlan(let waited, let why):
            return "UNAVAILABLE: waited \(waited) s (the scheduler's --no-plan-wait) and still no plan serves the model: \(why)"
        }
    }
}
