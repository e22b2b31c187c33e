/// worker/Stats carries a worker's `WorkerStats` in the common StatsResponse's `extra` list, each
/// figure under its proto field name ("kv_used_entries", ...; the layer range as "layers_start" and
/// "layers_end"). This is the one table of those names, both ways.
extension WorkerStats {
    private struct Figure: Sendable {
        var name: String
        var get: @Sendable (WorkerStats) -> Double
        var set: @Sendable (inout WorkerStats, Double) -> Void
    }

    private static let figures: [Figure] = [
        Figure(name: "layers_start", get: { Double($0.layers?.start ?? 0) },
               set: { $0.layers = LayerRange(start: UInt32(clamping: $1), end: $0.layers?.end ?? 0) }),
        Figure(name: "layers_end", get: { Double($0.layers?.end ?? 0) },
               set: { $0.layers = LayerRange(start: $0.layers?.start ?? 0, end: UInt32(clamping: $1)) }),
        Figure(name: "kv_used_entries", get: { Double($0.kvUsedEntries) }, set: { $0.kvUsedEntries = UInt64(clamping: $1) }),
        Figure(name: "kv_capacity_entries", get: { Double($0.kvCapacityEntries) }, set: { $0.kvCapacityEntries = UInt64(clamping: $1) }),
        Figure(name: "active_requests", get: { Double($0.activeRequests) }, set: { $0.activeRequests = UInt32(clamping: $1) }),
        Figure(name: "queued_items", get: { Double($0.queuedItems) }, set: { $0.queuedItems = UInt32(clamping: $1) }),
        Figure(name: "mean_batch_tokens", get: { $0.meanBatchTokens }, set: { $0.meanBatchTokens = $1 }),
        Figure(name: "prefill_tokens_per_second", get: { $0.prefillTokensPerSecond }, set: { $0.prefillTokensPerSecond = $1 }),
        Figure(name: "decode_tokens_per_second", get: { $0.decodeTokensPerSecond }, set: { $0.decodeTokensPerSecond = $1 }),
        Figure(name: "forward_calls", get: { Double($0.forwardCalls) }, set: { $0.forwardCalls = UInt64(clamping: $1) }),
        Figure(name: "forward_rejected", get: { Double($0.forwardRejected) }, set: { $0.forwardRejected = UInt64(clamping: $1) }),
        Figure(name: "weight_bytes", get: { Double($0.weightBytes) }, set: { $0.weightBytes = UInt64(clamping: $1) }),
        Figure(name: "kv_bytes", get: { Double($0.kvBytes) }, set: { $0.kvBytes = UInt64(clamping: $1) }),
    ]

    /// The figures as (name, value) pairs for StatsResponse.extra.
    public var extras: [(name: String, value: Double)] {
        Self.figures.map { ($0.name, $0.get(self)) }
    }

    /// Reads the figures back from StatsResponse.extra; unknown names are ignored, missing ones stay 0.
    public init(extras: [(name: String, value: Double)]) {
        self.init()
        for (name, value) in extras {
            Self.figures.first { $0.name == name }?.set(&self, value)
        }
    }
}

extension FixedWidthInteger where Self: UnsignedInteger {
    /// The nearest representable value: NaN and negatives read as 0, too large as `max`.
    init(clamping value: Double) {
        if !(value > 0) {
            self = 0
        } else if value >= Double(Self.max) {
            self = .max
        } else {
            self = Self(value.rounded())
        }
    }
}
