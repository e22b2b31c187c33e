/// The loaded stage's shape: what a Forward is checked against without touching the stage.
public struct StageShape: Equatable, Sendable {
    public var layers: Range<Int>
    public var totalLayers: Int
    public var hiddenSize: Int
    public var vocabSize: Int
    public var blockSize: Int
    public var totalBlocks: Int
    public var isFirst: Bool { layers.lowerBound == 0 }
    public var isLast: Bool { layers.upperBound == totalLayers }

    public init(layers: Range<Int>, totalLayers: Int, hiddenSize: Int, vocabSize: Int, blockSize: Int, totalBlocks: Int) {
        self.layers = layers
        self.totalLayers = totalLayers
        self.hiddenSize = hiddenSize
        self.vocabSize = vocabSize
        self.blockSize = blockSize
        self.totalBlocks = totalBlocks
    }

    /// KV blocks needed to hold `tokens` tokens.
    func blocks(_ tokens: Int) -> Int { (tokens + blockSize - 1) / blockSize }
}

/// What the worker knows about its stage and requests, kept apart from the stage itself so
/// that Forward can be checked (and stats read) while a batch runs.
public struct StageLedger: Sendable {
    public internal(set) var shape: StageShape?
    public internal(set) var epoch: UInt64 = 0
    /// Tokens accepted per request key: the next Forward must start there.
    public internal(set) var lengths: [String: Int] = [:]
    /// The stage's numeric id for each request key.
    public internal(set) var ids: [String: UInt64] = [:]
    var nextID: UInt64 = 1
    public internal(set) var stats: StageStats?
    public internal(set) var forwardCalls: UInt64 = 0
    public internal(set) var forwardRejected: UInt64 = 0
    public internal(set) var batchTokens = 0
    public internal(set) var batches = 0
    /// Decode steps (one token past the prompt) over all batches, prefills beside them or not.
    public internal(set) var batchDecodes = 0
    /// Wall-clock seconds of the steps, each from its launch (queued behind a release included)
    /// to its end: beside the stage's own seconds (an emulated GPU's profile time), what the host
    /// adds to every step (a late wake-up from the emulated step's sleep on a busy machine).
    public internal(set) var stepWallSeconds = 0.0
    public internal(set) var prefill = (tokens: 0, seconds: 0.0)
    public internal(set) var decode = (tokens: 0, seconds: 0.0)
    /// Accepted items not yet taken into a batch.
    public internal(set) var queued = 0
    /// The scheduler-assigned range being loaded in the background, if any.
    public internal(set) var loadingAssignment: Range<Int>?
    /// Stopping (SIGTERM): requests held here go on, new ones are refused.
    public internal(set) var draining = false

    public init() {}

    /// Holds no request and has nothing queued: a draining worker may leave.
    public var isIdle: Bool { lengths.isEmpty && queued <= 0 }

    public var meanBatchTokens: Double { batches > 0 ? Double(batchTokens) / Double(batches) : 0 }
    public var prefillTokensPerSecond: Double { prefill.seconds > 0 ? Double(prefill.tokens) / prefill.seconds : 0 }
    public var decodeTokensPerSecond: Double { decode.seconds > 0 ? Double(decode.tokens) / decode.seconds : 0 }

    /// A new stage replaces the old one: its requests are gone with it.
    mutating func loaded(_ shape: StageShape, stats: StageStats, epoch: UInt64?) {
        self.shape = shape
        lengths = [:]
        ids = [:]
        self.stats = stats
        if let epoch { self.epoch = epoch }
    }

    /// Checks a Forward's slices and records them (lengths, ids, queue); returns each slice's
    /// stage id. Nothing but the call counters changes when it throws.
    mutating func admit(_ slices: [ForwardSlice], workerID: String) throws(ForwardRefusal) -> [UInt64] {
        forwardCalls += 1
        do throws(ForwardRefusal) {
            try ForwardAdmission.check(slices, against: self, workerID: workerID)
        } catch {
            forwardRejected += 1
            throw error
        }
        for slice in slices {
            lengths[slice.requestID] = Int(slice.positions[0]) + slice.positions.count
            if ids[slice.requestID] == nil { ids[slice.requestID] = nextID; nextID += 1 }
        }
        queued += slices.count
        return slices.compactMap { ids[$0.requestID] }
    }

    /// Forgets requests; returns the stage ids of those that were known.
    mutating func forget(_ keys: [String]) -> [UInt64] {
        let known = keys.compactMap { ids.removeValue(forKey: $0) }
        for key in keys { lengths[key] = nil }
        return known
    }

    /// Counts a finished step; decode steps (one token past the prompt for every request) and
    /// the rest (prefill) are timed apart, as the scheduler plans them apart.
    mutating func record(_ batch: StepBatch, output: StepOutput, wallSeconds: Double) {
        batches += 1
        stepWallSeconds += wallSeconds
        batchTokens += batch.tokenCount
        batchDecodes += batch.entries.filter { $0.tokenCount == 1 && $0.position > 0 }.count
        if batch.entries.allSatisfy({ $0.tokenCount == 1 && $0.position > 0 }) {
            decode.tokens += batch.tokenCount; decode.seconds += output.seconds
        } else {
            prefill.tokens += batch.tokenCount; prefill.seconds += output.seconds
        }
    }

    /// The scheduler's assignment for `epoch`: the range to load now, or nil when there is none
    /// (nothing assigned, already loaded — then the epoch is adopted — or another load running).
    mutating func follow(_ assignment: Range<Int>, epoch: UInt64) -> Range<Int>? {
        if assignment.isEmpty || shape?.layers == assignment {
            self.epoch = epoch
            return nil
        }
        // One background load at a time: the next heartbeat brings the assignment again.
        guard loadingAssignment == nil else { return nil }
        loadingAssignment = assignment
        return assignment
    }

    mutating func assignmentLoadEnded() { loadingAssignment = nil }
    mutating func adopt(epoch: UInt64) { self.epoch = epoch }
    mutating func drain() { draining = true }
    mutating func update(_ stats: StageStats) { self.stats = stats }
    mutating func dequeued(_ count: Int) { queued -= count }
}
