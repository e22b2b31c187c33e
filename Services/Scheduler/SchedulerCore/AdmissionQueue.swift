/// Requests waiting for a route, first come first served. Nothing is ever dropped from it:
/// an entry leaves only when admitted or when its own client cancels.
public struct AdmissionQueue<Waiter>: Sendable where Waiter: Sendable {
    public struct Entry: Sendable {
        public var key: String
        public var prompt: Int
        public var maxTokens: Int
        public var waiter: Waiter
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public var count: Int { entries.count }

    public mutating func append(key: String, prompt: Int, maxTokens: Int, waiter: Waiter) {
        entries.append(Entry(key: key, prompt: prompt, maxTokens: maxTokens, waiter: waiter))
    }

    /// 0 for the head.
    public func position(of key: String) -> Int? { entries.firstIndex { $0.key == key } }

    /// Removes and returns an entry (its client cancelled).
    public mutating func remove(_ key: String) -> Entry? {
        guard let index = position(of: key) else { return nil }
        return entries.remove(at: index)
    }

    /// Admits from the head while `route` finds room; stops at the first that does not fit, so
    /// that a large request is not overtaken forever by smaller ones.
    public mutating func admit<R>(_ route: (Entry) -> R?) -> [(Entry, R)] {
        var admitted: [(Entry, R)] = []
        while let head = entries.first, let result = route(head) {
            entries.removeFirst()
            admitted.append((head, result))
        }
        return admitted
    }
}
