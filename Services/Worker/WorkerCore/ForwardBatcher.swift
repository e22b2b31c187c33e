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
/// This is the one place that decides what goes in a step's batch; requests that decode in a
/// loop among the workers are first let catch up with each other (`StepAligner`), so that a hop
/// sends one Forward per step for all of them.
public final class ForwardBatcher<Tag: Sendable>: Sendable {
    public typealias Deliver = @Sendable ([(AcceptedSlice<Tag>, SliceOutcome)]) -> Void

    public let stage: WorkerStage
    public let maxBatchTokens: Int
    private let deliver: Deliver
    private let pending = ForwardQueue<Tag>()
    private let signal: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    private let aligner = StepAligner()

    public init(stage: WorkerStage, maxBatchTokens: Int, deliver: @escaping Deliver) {
        self.stage = stage
        self.maxBatchTokens = max(1, maxBatchTokens)
        self.deliver = deliver
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
        for await _ in wakeups {
            while true {
                await gatherStragglers()
                let batch = pending.take(maxTokens: maxBatchTokens)
                if batch.isEmpty { break }
                stage.dequeued(batch.count)
                await execute(batch)
                aligner.passed(batch.map { ($0.slice.requestID, $0.slice.comesBack) })
            }
        }
    }

    /// Lets looping requests that trail the pending ones catch up (see `StepAligner`).
    private func gatherStragglers() async {
        let held = stage.ledger.lengths
        guard let wait = aligner.stragglers(pending: pending.requestIDs, isHeld: { held[$0] != nil }) else { return }
        while Date() < wait.until {
            let pendingNow = Set(pending.requestIDs), heldNow = stage.ledger.lengths
            if wait.ids.allSatisfy({ pendingNow.contains($0) || heldNow[$0] == nil }) { return }
            try? await Task.sleep(for: .microseconds(250))
        }
    }

    func execute(_ batch: [AcceptedSlice<Tag>]) async {
        // A prompt longer than one step runs alone, chunk by chunk (chunked prefill).
        for long in batch where long.slice.tokenCount > maxBatchTokens {
            deliver(await StepRunner(stage: stage).runChunked(long, chunk: maxBatchTokens))
        }
        // Slices with hidden states in different encodings cannot share one input tensor.
        let groups = Dictionary(grouping: batch.filter { $0.slice.tokenCount <= maxBatchTokens }) { $0.slice.hidden?.encoding ?? .float32 }
        for group in groups.values {
            switch await StepRunner(stage: stage).run(group) {
            case .success(let outcomes):
                deliver(outcomes)
            case .failure(let refusal) where group.count == 1:
                deliver([(group[0], .failure(refusal.message))])
            case .failure:
                // One bad slice must not fail the others: run them one by one.
                for one in group {
                    switch await StepRunner(stage: stage).run([one]) {
                    case .success(let outcomes): deliver(outcomes)
                    case .failure(let refusal): deliver([(one, .failure(refusal.message))])
                    }
                }
            }
        }
    }
}
