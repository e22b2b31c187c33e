import Foundation

/// What became of one admitted slice.
public enum SliceOutcome: Sendable, Equatable {
    /// Hidden states for the next hop, one row per position.
    case hidden(HiddenStates)
    /// The last stage's sampled token, its log-probability when logits were kept, and its position.
    case token(UInt32, Float?, UInt32)
    case failure(String)
}

/// Continuous batching: admitted slices wait in a queue; one loop takes everything waiting (up
/// to `maxBatchTokens`) as one batch — prefills and decode steps of many requests together —
/// runs it on the stage, and hands each slice's outcome to `deliver`.
///
/// A prompt longer than one step is prefilled in chunks, one chunk per step beside the decode
/// steps waiting, so that the requests already running keep producing tokens while it fills.
///
/// This is the one place that decides what goes in a step's batch; requests that decode in a
/// loop among the workers are first let catch up with each other (`StepAligner`), so that a hop
/// sends one Forward per step for all of them.
public final class ForwardBatcher<Tag: Sendable>: Sendable {
    public typealias Deliver = @Sendable ([(AcceptedSlice<Tag>, SliceOutcome)]) -> Void

    public let stage: WorkerStage
    public let maxBatchTokens: Int
    /// Prompts and decode steps a batch may hold with this many layers loaded.
    private let caps: @Sendable (Int) -> BatchCaps
    private let deliver: Deliver
    private let pending = ForwardQueue<Tag>()
    private let signal: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    private let aligner: StepAligner

    /// - Parameter alignWait: the longest a batch waits for trailing looping requests
    ///   (`StepAligner`); 0 runs what is queued at once, as a GPU serving engine does.
    /// - Parameter caps: prompts and decode steps per batch, by the layers loaded (`BatchCaps`).
    public init(stage: WorkerStage, maxBatchTokens: Int, alignWait: Double = 0.1,
                caps: @escaping @Sendable (Int) -> BatchCaps = { _ in .unlimited }, deliver: @escaping Deliver) {
        self.stage = stage
        self.maxBatchTokens = max(1, maxBatchTokens)
        self.caps = caps
        self.deliver = deliver
        aligner = StepAligner(maxWait: alignWait)
        (wakeups, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Admits a Forward's slices (the refusal is the Forward's answer) and queues them.
    public func accept(_ slices: [ForwardSlice], tags: [Tag]) throws(ForwardRefusal) {
        let ids = try stage.admit(slices)
        pending.append(zip(zip(slices, ids), tags).map { AcceptedSlice(slice: $0.0, id: $0.1, tag: $1) })
        signal.yield()
    }

    /// The batch loop; returns when cancelled.
    public func run() async {
        var prefills: [ChunkedPrefill<Tag>] = []   // long prompts, oldest first; only the loop touches them
        var chunkWaited = false                    // the last step had no room for the next chunk
        for await _ in wakeups {
            while true {
                await gatherStragglers()
                // While a prompt fills, a quarter of each step at least is kept for its next
                // chunk; a chunk that found no room runs next, alone.
                let budget = prefills.isEmpty ? maxBatchTokens : (chunkWaited ? 0 : maxBatchTokens - max(1, maxBatchTokens / 4))
                let caps = caps(stage.shape?.layers.count ?? 1)
                let (batch, long) = pending.take(maxTokens: budget, longerThan: maxBatchTokens, caps: caps)
                stage.dequeued(batch.count + long.count)
                prefills += long.map(ChunkedPrefill.init)
                if batch.isEmpty && prefills.isEmpty { break }
                let room = maxBatchTokens - batch.reduce(0) { $0 + $1.slice.tokenCount }
                // A long prompt's chunk is a prompt of the batch too.
                let promptRoom = batch.filter { !$0.slice.isDecode }.count < caps.prompts
                var chunk: AcceptedSlice<Tag>?
                if room > 0, promptRoom, let head = prefills.first { chunk = head.nextChunk(room) }
                chunkWaited = !prefills.isEmpty && chunk == nil
                var done = await execute(batch + (chunk.map { [$0] } ?? []))
                // The chunk's request has no other slice here: its stage id picks its outcome out.
                if let chunk, let index = done.firstIndex(where: { $0.0.id == chunk.id }) {
                    if let finished = prefills[0].ran(chunk, done.remove(at: index).1) {
                        prefills.removeFirst()
                        done.append(finished)
                    }
                }
                if !done.isEmpty { deliver(done) }
                aligner.passed(done.map { ($0.0.slice.requestID, $0.0.slice.comesBack) })
            }
        }
    }

    /// Lets looping requests that trail the pending ones catch up (see `StepAligner`).
    /// Sleeps between arrivals rather than polling: two dozen emulated workers share a machine.
    private func gatherStragglers() async {
        guard aligner.maxWait > 0 else { return }
        let held = stage.ledger.lengths
        guard let wait = aligner.stragglers(pending: pending.requestIDs, isHeld: { held[$0] != nil }) else { return }
        let deadline = ContinuousClock.now + .seconds(max(0, wait.until.timeIntervalSinceNow))
        var missing = wait.ids
        while ContinuousClock.now < deadline {
            let seen = pending.appendCount
            let pendingNow = Set(pending.requestIDs), heldNow = stage.ledger.lengths
            missing = missing.filter { !pendingNow.contains($0) && heldNow[$0] != nil }
            if missing.isEmpty { return }
            await pending.waitForAppend(after: seen, until: deadline)
        }
    }

    /// Runs slices as one step (fewer when their hidden states' encodings differ); each slice's outcome.
    func execute(_ batch: [AcceptedSlice<Tag>]) async -> [(AcceptedSlice<Tag>, SliceOutcome)] {
        var outcomes: [(AcceptedSlice<Tag>, SliceOutcome)] = []
        // Slices with hidden states in different encodings cannot share one input tensor.
        let groups = Dictionary(grouping: batch) { $0.slice.hidden?.encoding ?? .float32 }
        for group in groups.values {
            switch await StepRunner(stage: stage).run(group, launched: .now) {
            case .success(let results):
                outcomes += results
            case .failure(let refusal) where group.count == 1:
                outcomes.append((group[0], .failure(refusal.message)))
            case .failure:
                // One bad slice must not fail the others: run them one by one.
                for one in group {
                    switch await StepRunner(stage: stage).run([one]) {
                    case .success(let results): outcomes += results
                    case .failure(let refusal): outcomes.append((one, .failure(refusal.message)))
                    }
                }
            }
        }
        return outcomes
    }
}

/// A prompt longer than one step, part way through its chunks: the hidden states of the
/// chunks run so far, which go on together as one slice once the last chunk has run.
struct ChunkedPrefill<Tag: Sendable> {
    let whole: AcceptedSlice<Tag>
    private var done = 0
    private var hidden: HiddenStates?

    init(_ whole: AcceptedSlice<Tag>) { self.whole = whole }

    /// The next chunk, of at most `tokens` tokens.
    func nextChunk(_ tokens: Int) -> AcceptedSlice<Tag> {
        var chunk = whole
        chunk.slice = whole.slice.part(done..<min(whole.slice.tokenCount, done + tokens))
        return chunk
    }

    /// Records a chunk's outcome; returns the whole slice's outcome when it is over (the last
    /// chunk ran, or a chunk failed).
    mutating func ran(_ chunk: AcceptedSlice<Tag>, _ outcome: SliceOutcome) -> (AcceptedSlice<Tag>, SliceOutcome)? {
        switch outcome {
        case .failure:
            return (whole, outcome)
        case .hidden(let part):
            if part.rows > 0 {
                var joined = hidden ?? HiddenStates(rows: 0, width: part.width, encoding: part.encoding, bytes: [])
                joined.rows += part.rows
                joined.bytes += part.bytes
                hidden = joined
            }
        case .token:
            break
        }
        done += chunk.slice.tokenCount
        guard done == whole.slice.tokenCount else { return nil }
        if let hidden { return (whole, .hidden(hidden)) }
        return (whole, outcome)
    }
}
