/// The KV admission rule of spec §5: a node admits a request if, after reserving its expected
/// length on every layer it runs, at least `(1 − highWaterMark)` of its capacity stays free.
public struct KVPolicy: Sendable, Equatable {
    public var highWaterMark: Double
    /// Helix expects `averageOutput·outputRatio` output tokens per request.
    public var outputRatio: Double
    public var averageOutput: Double = 240
    /// Reserve prompt + max_tokens when a request names its maximum: the worker's cache can then
    /// never run out mid-decode. Off, the smaller of max_tokens and Helix's expectation is used.
    public var reserveMaxTokens: Bool
    /// Check room as if the request ran every layer the node holds (it still reserves only the
    /// layers it runs): the Helix artifact's scheduler does this; live serving does not.
    public var checksWholeNode = false

    public init(highWaterMark: Double, outputRatio: Double, reserveMaxTokens: Bool = true) {
        self.highWaterMark = highWaterMark
        self.outputRatio = outputRatio
        self.reserveMaxTokens = reserveMaxTokens
    }

    public static let online = KVPolicy(highWaterMark: 0.9, outputRatio: 0.6)
    public static let offline = KVPolicy(highWaterMark: 0.85, outputRatio: 1.0)

    /// Tokens a request is expected to hold in every layer it runs. Without `maxTokens` (the
    /// simulator's requests) Helix's estimate `prompt + 240·ratio` is used as is.
    public func expectedLength(prompt: Int, maxTokens: Int?) -> Double {
        let helix = averageOutput * outputRatio
        guard let maxTokens else { return Double(prompt) + helix }
        if reserveMaxTokens { return Double(prompt + maxTokens) }
        return Double(prompt) + min(Double(maxTokens), helix.rounded(.up))
    }

    /// Whether a node with `capacity` entries, `reserved` already promised, admits `entries` more.
    public func admits(entries: Double, reserved: Double, capacity: Double) -> Bool {
        // The small slack keeps exact boundaries (850 of 1000 at 0.85) from failing on rounding.
        capacity - reserved - entries >= (1 - highWaterMark) * capacity - 1e-9
    }
}
