/// The KV admission rule of spec §5: a node admits a request if, after reserving its expected
/// length on every layer it runs, at least `(1 − highWaterMark)` of its capacity stays free.
public struct KVPolicy: Sendable, Equatable {
    public var highWaterMark: Double
    /// Helix's expected output is 240·ratio tokens. A Generate names its `max_tokens`, so we
    /// expect the smaller of the two unless `reserveMaxTokens` asks for the worst case.
    public var outputRatio: Double
    public var averageOutput: Double = 240
    /// Reserve prompt + max_tokens: the worker's cache can then never run out mid-decode.
    public var reserveMaxTokens: Bool

    public init(highWaterMark: Double, outputRatio: Double, reserveMaxTokens: Bool = true) {
        self.highWaterMark = highWaterMark
        self.outputRatio = outputRatio
        self.reserveMaxTokens = reserveMaxTokens
    }

    public static let online = KVPolicy(highWaterMark: 0.9, outputRatio: 0.6)
    public static let offline = KVPolicy(highWaterMark: 0.85, outputRatio: 1.0)

    /// Tokens a request is expected to hold in every layer it runs.
    public func expectedLength(prompt: Int, maxTokens: Int) -> Int {
        if reserveMaxTokens { return prompt + maxTokens }
        return prompt + min(maxTokens, Int((averageOutput * outputRatio).rounded(.up)))
    }

    /// Whether a node with `capacity` entries, `reserved` already promised, admits `entries` more.
    public func admits(entries: Int, reserved: Int, capacity: Int) -> Bool {
        let available = capacity - reserved
        // The small slack keeps exact boundaries (850 of 1000 at 0.85) from failing on rounding.
        return Double(available - entries) >= (1 - highWaterMark) * Double(capacity) - 1e-9
    }
}

/// KV room promised to requests, per worker, in token×layer entries. Reserve on admit,
/// release on finish, cancel or failure.
public struct KVLedger: Sendable, Equatable {
    public private(set) var reservedByWorker: [String: Int] = [:]
    public private(set) var reservations: [String: [String: Int]] = [:]   // request → worker → entries

    public init() {}

    public func reserved(on worker: String) -> Int { reservedByWorker[worker] ?? 0 }

    /// Records a request's reservation on each hop; a request reserves once (a second call is refused).
    @discardableResult
    public mutating func reserve(_ request: String, _ entries: [String: Int]) -> Bool {
        guard reservations[request] == nil else { return false }
        reservations[request] = entries
        for (worker, count) in entries { reservedByWorker[worker, default: 0] += count }
        return true
    }

    /// Frees everything the request holds; returns the workers it held room on.
    @discardableResult
    public mutating func release(_ request: String) -> [String] {
        guard let entries = reservations.removeValue(forKey: request) else { return [] }
        for (worker, count) in entries {
            let left = (reservedByWorker[worker] ?? 0) - count
            reservedByWorker[worker] = left > 0 ? left : nil
        }
        return Array(entries.keys)
    }

    /// Requests holding room on `worker`.
    public func requests(on worker: String) -> [String] {
        reservations.filter { $0.value[worker] != nil }.map(\.key).sorted()
    }
}
