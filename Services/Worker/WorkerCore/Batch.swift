import Tensor

/// One request's slice of a batch: `tokenCount` consecutive tokens starting at `position`.
public struct BatchEntry: Equatable, Sendable {
    public var requestID: UInt64
    /// Position of the first token of this slice; must equal the tokens already cached for the request.
    public var position: Int
    public var tokenCount: Int
    /// On the last stage: sample a token after this slice (end of a prompt, or a decode step).
    public var wantsToken: Bool
    /// Used by the last stage the first time it sees the request.
    public var sampling: SamplingParameters

    public init(requestID: UInt64, position: Int, tokenCount: Int, wantsToken: Bool, sampling: SamplingParameters = .greedy) {
        self.requestID = requestID
        self.position = position
        self.tokenCount = tokenCount
        self.wantsToken = wantsToken
        self.sampling = sampling
    }
}

/// How hidden states are laid out on the wire between stages.
public enum HiddenEncoding: String, Sendable {
    case float32, float16
    /// No bytes: what emulated workers pass each other by default. They compute nothing, so
    /// the values would be zeros; the shape still says how big the float16 tensor it stands
    /// for is, and emulated links charge that size (`chargedBytes`).
    case declared
    /// Bytes per value carried.
    public var byteWidth: Int {
        switch self {
        case .float32: 4
        case .float16: 2
        case .declared: 0
        }
    }
}

/// Hidden states of a batch, `rows` tokens × `width`, in their wire form.
public struct HiddenStates: Equatable, Sendable {
    public var rows: Int
    public var width: Int
    public var encoding: HiddenEncoding
    public var bytes: [UInt8]

    public init(rows: Int, width: Int, encoding: HiddenEncoding, bytes: [UInt8]) {
        self.rows = rows
        self.width = width
        self.encoding = encoding
        self.bytes = bytes
    }

    public init(_ tensor: Tensor, encoding: HiddenEncoding) {
        rows = tensor.rows
        width = tensor.columns
        self.encoding = encoding
        switch encoding {
        case .float32: bytes = tensor.scalars.withUnsafeBytes { Array($0) }
        case .float16:
            bytes = tensor.scalars.map { HalfPrecision.float16Bits(from: $0).littleEndian }.withUnsafeBytes { Array($0) }
        case .declared: bytes = []
        }
    }

    /// Bytes the states take on a real link: a declared tensor's float16 size, else what is carried.
    public var chargedBytes: Int { encoding == .declared ? rows * width * HiddenEncoding.float16.byteWidth : bytes.count }

    /// Decodes to Float32, checking that the byte count matches the declared shape.
    public func tensor() throws -> Tensor {
        guard encoding != .declared else {
            throw WorkerError.invalidBatch("hidden states of \(rows)×\(width) carry no values (the declared-size stand-ins of emulated workers); a computing stage needs float32 or float16 data")
        }
        let (count, overflow) = rows.multipliedReportingOverflow(by: width)
        guard rows >= 0, width > 0, !overflow, count <= Int.max / 4, bytes.count == count * encoding.byteWidth else {
            throw WorkerError.invalidBatch("hidden states declare \(rows)×\(width) \(encoding.rawValue) but carry \(bytes.count) bytes")
        }
        return Tensor(shape: [rows, width]) { out in
            bytes.withUnsafeBytes { raw in
                switch encoding {
                case .float32: _ = out.withMemoryRebound(to: UInt8.self) { raw.copyBytes(to: $0) }
                case .float16:
                    for i in 0..<(rows * width) {
                        out[i] = HalfPrecision.float(fromFloat16Bits: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)
                    }
                case .declared: break   // refused above
                }
            }
        }
    }
}

/// What a stage receives: token ids on the first stage, hidden states on the others.
public enum StageInput: Sendable {
    case tokens([Int32])
    case hidden(HiddenStates)

    var rowCount: Int {
        switch self {
        case .tokens(let ids): return ids.count
        case .hidden(let states): return states.rows
        }
    }
}

/// One step's work: slices of several requests (prefill chunks and decode steps mixed),
/// with their tokens or hidden states concatenated in entry order.
public struct StepBatch: Sendable {
    public var entries: [BatchEntry]
    public var input: StageInput
    /// When the batch was taken to run: an emulated GPU's time runs from then, so that the
    /// host's own work on it (and waiting for a thread) overlaps the profile's time instead of
    /// adding to it.
    public var launched: ContinuousClock.Instant?

    public init(entries: [BatchEntry], input: StageInput, launched: ContinuousClock.Instant? = nil) {
        self.entries = entries
        self.input = input
        self.launched = launched
    }

    public var tokenCount: Int { entries.reduce(0) { $0 &+ $1.tokenCount } }

    /// Bounds that keep every size computed from a peer's numbers far from overflow.
    public static let maxTokens = 1 << 20
    public static let maxPosition = 1 << 30

    /// Shape checks that do not depend on the stage: positive, bounded slices, each request once,
    /// as many input rows as slice tokens. Returns each request's length after the step.
    public func validateShape() throws -> [UInt64: Int] {
        guard !entries.isEmpty else { throw WorkerError.invalidBatch("empty batch") }
        var growth: [UInt64: Int] = [:]
        var total = 0
        for entry in entries {
            guard entry.tokenCount > 0, entry.tokenCount <= Self.maxTokens, entry.position >= 0, entry.position <= Self.maxPosition else {
                throw WorkerError.invalidBatch("request \(entry.requestID): slice of \(entry.tokenCount) tokens at position \(entry.position) is out of bounds")
            }
            guard growth[entry.requestID] == nil else { throw WorkerError.invalidBatch("request \(entry.requestID) appears twice in one batch") }
            growth[entry.requestID] = entry.position + entry.tokenCount
            total += entry.tokenCount
            guard total <= Self.maxTokens else { throw WorkerError.invalidBatch("batch has more than \(Self.maxTokens) tokens") }
        }
        guard input.rowCount == total else {
            throw WorkerError.invalidBatch("entries cover \(total) tokens but the input has \(input.rowCount) rows")
        }
        if case .hidden(let states) = input {
            let (perRow, overflow) = states.width.multipliedReportingOverflow(by: states.encoding.byteWidth)
            guard states.width > 0, !overflow, perRow <= Int.max / max(1, total), states.bytes.count == total * perRow else {
                throw WorkerError.invalidBatch("hidden states declare \(states.rows)×\(states.width) \(states.encoding.rawValue) but carry \(states.bytes.count) bytes")
            }
        }
        return growth
    }
}

/// A token sampled by the last stage.
public struct SampledToken: Equatable, Sendable {
    public var requestID: UInt64
    public var token: Int32
    /// Position the token will take in the sequence.
    public var position: Int
}

/// A stage's answer to a step: hidden states for the next stage, or tokens on the last.
public struct StepOutput: Sendable {
    public var hidden: HiddenStates?
    public var tokens: [SampledToken]
    /// Logits of the sampled rows when the caller asked for them (tests, `model run --json`).
    public var logits: [UInt64: [Float]]
    /// Seconds the step took (emulated: the profile's time).
    public var seconds: Double
}

/// What a worker's compute backend does; the service is an adapter from RPCs to this.
public protocol StageExecutor: AnyObject {
    var layers: Range<Int> { get }
    var totalLayers: Int { get }
    var hiddenSize: Int { get }
    /// Runs one batch through the stage's layers. Throws, changing nothing, if it cannot.
    func step(_ batch: StepBatch) throws -> StepOutput
    /// Frees everything held for a request (KV blocks, sampler). Unknown ids are ignored.
    func release(_ requestID: UInt64)
    var stats: StageStats { get }
    /// Tokens' worth of KV blocks reserved for a request.
    func heldTokens(_ requestID: UInt64) -> Int
}

extension StageExecutor {
    public var isFirst: Bool { layers.lowerBound == 0 }
    public var isLast: Bool { layers.upperBound == totalLayers }
}

/// Counters the worker reports (Stats RPC and registration).
public struct StageStats: Equatable, Sendable {
    public var kvCapacityEntries: Int
    public var kvUsedEntries: Int
    public var kvBlockSize: Int
    public var freeTokens: Int
    public var activeRequests: Int
    public var steps: Int
    public var tokensProcessed: Int
    public var busySeconds: Double
    public var lastBatchTokens: Int
    public var weightBytes: Int
    /// Bytes the KV cache holds (keys and values, all blocks); 0 for the emulated backend.
    public var kvBytes: Int = 0

    public var tokensPerSecond: Double { busySeconds > 0 ? Double(tokensProcessed) / busySeconds : 0 }
}
