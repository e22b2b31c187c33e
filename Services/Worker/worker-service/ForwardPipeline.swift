import Client
import Foundation
import Logging
import Wire
import WorkerCore

/// Continuous batching: accepted Forward items wait here; one loop takes everything waiting
/// as one batch (prefills and decode steps of many requests together), runs it, and sends
/// each item on — hidden states to its next hop, sampled tokens to its reply-to address.
final class ForwardPipeline: Sendable {
    struct Accepted: Sendable {
        var item: ForwardItem
        var id: UInt64
    }

    let host: StageHost
    let peers: Peers
    let logger: Logger
    let maxBatchTokens: Int
    private let pending = PendingItems()
    private let signal: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>

    init(host: StageHost, peers: Peers, logger: Logger, maxBatchTokens: Int) {
        self.host = host
        self.peers = peers
        self.logger = logger
        self.maxBatchTokens = maxBatchTokens
        (wakeups, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Validates and queues a Forward's items; the Status thrown is the Forward's answer.
    func accept(_ request: ForwardRequest) throws -> ForwardResponse {
        let ids = try host.admit(request.items)
        pending.append(zip(request.items, ids).map { Accepted(item: $0, id: $1) })
        signal.yield()
        return ForwardResponse(accepted: UInt32(request.items.count), kvUsedEntries: host.workerStats.kvUsedEntries)
    }

    /// The batch loop; returns when cancelled.
    func run() async {
        for await _ in wakeups {
            while case let batch = pending.take(maxTokens: maxBatchTokens), !batch.isEmpty {
                host.withLedger { $0.queued -= batch.count }
                await execute(batch)
            }
        }
    }

    private func execute(_ batch: [Accepted]) async {
        // A prompt longer than one step runs alone, chunk by chunk (chunked prefill).
        for long in batch where long.item.positions.count > maxBatchTokens {
            switch await runChunked(long) {
            case .success(let outcomes): deliver(outcomes)
            case .failure(let refusal): deliver([(long, .failure(refusal.message))])
            }
        }
        // Items with hidden states in different encodings cannot share one input tensor.
        let groups = Dictionary(grouping: batch.filter { $0.item.positions.count <= maxBatchTokens }) { $0.item.hidden?.dtype ?? .float32 }
        for group in groups.values {
            switch await run(group) {
            case .success(let outcomes):
                deliver(outcomes)
            case .failure(let refusal) where group.count == 1:
                deliver([(group[0], .failure(refusal.message))])
            case .failure:
                // One bad item must not fail the others: run them one by one.
                for one in group {
                    switch await run([one]) {
                    case .success(let outcomes): deliver(outcomes)
                    case .failure(let refusal): deliver([(one, .failure(refusal.message))])
                    }
                }
            }
        }
    }

    struct Refusal: Error { var message: String }

    enum Outcome: Sendable {
        case hidden(Wire.HiddenStates)
        case token(UInt32, Float?, UInt32)
        case failure(String)
    }

    /// Runs one long item in steps of at most `maxBatchTokens` tokens; only the last chunk
    /// samples. The hidden states of all chunks go on together, as one item.
    private func runChunked(_ accepted: Accepted) async -> Result<[(Accepted, Outcome)], Refusal> {
        let item = accepted.item
        let total = item.positions.count, first = Int(item.positions[0])
        let hiddenIn = item.hidden.flatMap { $0.data.isEmpty ? nil : $0 }
        let encodingIn: HiddenEncoding = hiddenIn?.dtype == .float16 ? .float16 : .float32
        let widthIn = Int(hiddenIn?.shape.last ?? 0)
        var hiddenOut: [UInt8] = []
        var widthOut = 0
        var encodingOut = HiddenEncoding.float32
        var last: StepOutput?
        var offset = 0
        while offset < total {
            let count = min(maxBatchTokens, total - offset)
            let entry = BatchEntry(requestID: accepted.id, position: first + offset, tokenCount: count,
                                   wantsToken: offset + count == total, sampling: Self.sampling(item.sampling))
            let input: StageInput
            if let hiddenIn {
                let rowBytes = widthIn * encodingIn.byteWidth
                input = .hidden(WorkerCore.HiddenStates(rows: count, width: widthIn, encoding: encodingIn,
                                                        bytes: Array(hiddenIn.data[(offset * rowBytes)..<((offset + count) * rowBytes)])))
            } else {
                input = .tokens(item.tokenIDs[offset..<(offset + count)].map { Int32(truncatingIfNeeded: $0) })
            }
            switch await host.step(StepBatch(entries: [entry], input: input)) {
            case .failure(let error): return .failure(Refusal(message: error.description))
            case .success(let output):
                if let hidden = output.hidden {
                    hiddenOut += hidden.bytes
                    widthOut = hidden.width
                    encodingOut = hidden.encoding
                }
                last = output
            }
            offset += count
        }
        if !hiddenOut.isEmpty {
            return .success([(accepted, .hidden(Wire.HiddenStates(data: hiddenOut, dtype: encodingOut == .float16 ? .float16 : .float32,
                                                                  shape: [UInt32(total), UInt32(widthOut)])))])
        }
        guard let last, let sampled = last.tokens.first(where: { $0.requestID == accepted.id }) else {
            return .success([(accepted, .failure("the last stage produced no token"))])
        }
        let logprob = last.logits[accepted.id].map { Self.logProbability(of: Int(sampled.token), in: $0) }
        return .success([(accepted, .token(UInt32(sampled.token), logprob, UInt32(sampled.position)))])
    }

    /// Runs items as one step: each item's outcome, or why the stage refused the whole step.
    private func run(_ group: [Accepted]) async -> Result<[(Accepted, Outcome)], Refusal> {
        var entries: [BatchEntry] = []
        var tokens: [Int32] = []
        var hiddenBytes: [UInt8] = []
        var encoding = HiddenEncoding.float32
        var width = 0
        for accepted in group {
            let item = accepted.item
            entries.append(BatchEntry(requestID: accepted.id, position: Int(item.positions[0]), tokenCount: item.positions.count,
                                      wantsToken: true, sampling: Self.sampling(item.sampling)))
            if let hidden = item.hidden, !hidden.data.isEmpty {
                encoding = hidden.dtype == .float16 ? .float16 : .float32
                width = Int(hidden.shape.last ?? 0)
                hiddenBytes += hidden.data
            } else {
                tokens += item.tokenIDs.map { Int32(truncatingIfNeeded: $0) }
            }
        }
        let rows = entries.reduce(0) { $0 + $1.tokenCount }
        let input: StageInput = hiddenBytes.isEmpty ? .tokens(tokens)
            : .hidden(WorkerCore.HiddenStates(rows: rows, width: width, encoding: encoding, bytes: hiddenBytes))
        switch await host.step(StepBatch(entries: entries, input: input)) {
        case .failure(let error):
            return .failure(Refusal(message: error.description))
        case .success(let output):
            if let hidden = output.hidden {
                let rowBytes = hidden.width * hidden.encoding.byteWidth
                var offset = 0
                return .success(group.map { accepted in
                    let n = accepted.item.positions.count
                    let slice = Array(hidden.bytes[(offset * rowBytes)..<((offset + n) * rowBytes)])
                    offset += n
                    return (accepted, .hidden(Wire.HiddenStates(data: slice, dtype: hidden.encoding == .float16 ? .float16 : .float32,
                                                                shape: [UInt32(n), UInt32(hidden.width)])))
                })
            }
            return .success(group.map { accepted in
                guard let sampled = output.tokens.first(where: { $0.requestID == accepted.id }) else {
                    return (accepted, .failure("the last stage produced no token"))
                }
                let logprob = output.logits[accepted.id].map { Self.logProbability(of: Int(sampled.token), in: $0) }
                return (accepted, .token(UInt32(sampled.token), logprob, UInt32(sampled.position)))
            })
        }
    }

    /// Sends outputs on without holding up the next batch.
    private func deliver(_ outcomes: [(Accepted, Outcome)]) {
        var forwards: [String: [ForwardItem]] = [:]
        var replies: [String: [ForwardResult]] = [:]
        for (accepted, outcome) in outcomes {
            let item = accepted.item
            switch outcome {
            case .hidden(let states):
                guard let next = item.route.first else { continue }
                forwards[next.address, default: []].append(ForwardItem(
                    requestID: item.requestID, positions: item.positions, hidden: states, start: next.start, end: next.end,
                    route: Array(item.route.dropFirst()), replyTo: item.replyTo, sampling: item.sampling, prefill: item.prefill, step: item.step))
            case .token(let token, let logprob, let position):
                replies[item.replyTo, default: []].append(ForwardResult(requestID: item.requestID, tokenID: token, logprob: logprob, position: position, step: item.step))
            case .failure(let reason):
                replies[item.replyTo, default: []].append(ForwardResult(requestID: item.requestID, step: item.step, error: "worker \(host.workerID): \(reason)"))
                Task { await host.discard(item.requestID) }
            }
        }
        for (address, items) in forwards {
            Task {
                do {
                    let client = try await peers.client(address)
                    _ = try await client.call(Methods.Worker.forward.name, ForwardRequest(items: items), as: ForwardResponse.self, deadline: .seconds(30))
                } catch {
                    logger.warning("next hop refused or unreachable", metadata: ["address": "\(address)", "error": "\(error)"])
                    var failures: [String: [ForwardResult]] = [:]
                    for item in items {
                        failures[item.replyTo, default: []].append(ForwardResult(requestID: item.requestID, step: item.step,
                                                                                 error: "worker \(host.workerID): next hop \(address): \(error)"))
                        await host.discard(item.requestID)
                    }
                    await reply(failures)
                }
            }
        }
        if !replies.isEmpty { Task { await reply(replies) } }
    }

    private func reply(_ replies: [String: [ForwardResult]]) async {
        for (address, results) in replies {
            do {
                let client = try await peers.client(address)
                _ = try await client.call(Methods.Scheduler.forwardResult.name, ForwardResultRequest(results: results),
                                          as: ForwardResultResponse.self, deadline: .seconds(30))
            } catch {
                logger.warning("cannot send results", metadata: ["reply_to": "\(address)", "error": "\(error)"])
            }
        }
    }

    static func sampling(_ params: SamplingParams?) -> SamplingParameters {
        guard let params, !params.greedy else { return .greedy }
        return SamplingParameters(temperature: params.temperature, topP: params.topP == 0 ? 1 : params.topP, seed: params.seed)
    }

    /// log softmax(logits)[token], computed stably.
    static func logProbability(of token: Int, in logits: [Float]) -> Float {
        guard logits.indices.contains(token), let maximum = logits.max() else { return -.infinity }
        var sum: Double = 0
        for value in logits { sum += exp(Double(value - maximum)) }
        return Float(Double(logits[token] - maximum) - log(sum))
    }
}

/// Items accepted but not yet batched.
final class PendingItems: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ForwardPipeline.Accepted] = []

    func append(_ new: [ForwardPipeline.Accepted]) {
        lock.lock(); defer { lock.unlock() }
        items += new
    }

    /// Oldest items up to `maxTokens` tokens (at least one item).
    func take(maxTokens: Int) -> [ForwardPipeline.Accepted] {
        lock.lock(); defer { lock.unlock() }
        var taken = 0, tokens = 0
        while taken < items.count, taken == 0 || tokens + items[taken].item.positions.count <= maxTokens {
            tokens += items[taken].item.positions.count
            taken += 1
        }
        let batch = Array(items.prefix(taken))
        items.removeFirst(taken)
        return batch
    }
}
