import Foundation

/// A closed-loop load on a scheduler, the way the simulator's offline mode loads a cluster:
/// `concurrency` generations stay in flight (the scheduler's KV admission decides how many run;
/// the rest wait in its queue), each the next (prompt, output) length pair of a workload, taken in
/// order and cycling. Every token's arrival is timestamped on one monotonic clock, so that the
/// figures of a window after a warm-up can be computed as the simulator computes its own.
public struct ServingLoad: Sendable {
    public struct Request: Sendable, Equatable {
        public var promptTokens: Int
        public var outputTokens: Int
        public init(promptTokens: Int, outputTokens: Int) {
            self.promptTokens = promptTokens
            self.outputTokens = outputTokens
        }
    }

    public var requests: [Request]
    public var concurrency: Int
    public var warmupSeconds: Double
    public var measureSeconds: Double
    /// Size of the vocabulary prompt token ids are drawn from (ids 1..<vocabulary).
    public var vocabulary: Int

    public init(requests: [Request], concurrency: Int, warmupSeconds: Double, measureSeconds: Double, vocabulary: Int) {
        self.requests = requests
        self.concurrency = concurrency
        self.warmupSeconds = warmupSeconds
        self.measureSeconds = measureSeconds
        self.vocabulary = vocabulary
    }

    /// Deterministic prompt ids for request number `n` (the content does not matter to timing).
    func promptIDs(_ n: Int, length: Int) -> [UInt32] {
        let span = max(2, vocabulary - 1)
        return (0..<max(1, length)).map { UInt32(1 + (n &* 7 &+ $0 &* 13) % span) }
    }

    /// Runs the load until the window ends, then cancels what is still in flight. `window` is
    /// called with true when the measured window opens and false when it closes (the caller reads
    /// process CPU times there).
    public func run(client: ServiceClient, window: @escaping @Sendable (Bool) -> Void = { _ in }) async -> ServingLoadReport {
        precondition(!requests.isEmpty && concurrency >= 1, "ServingLoad needs requests and a positive concurrency")
        let log = TokenLog()
        let start = ContinuousClock.now
        let end = warmupSeconds + measureSeconds
        func now() -> Double { let d = ContinuousClock.now - start; return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        let counter = log
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: .seconds(warmupSeconds))
                window(true)
                try? await Task.sleep(for: .seconds(measureSeconds))
                window(false)
            }
            for slot in 0..<concurrency {
                group.addTask {
                    // Generations join evenly over the first half of the warm-up: all at once, their
                    // prompts would queue ahead of every decode step at the first stage.
                    try? await Task.sleep(for: .seconds(warmupSeconds / 2 * Double(slot) / Double(concurrency)))
                    while now() < end, !Task.isCancelled {
                        let n = counter.nextRequest()
                        let spec = requests[n % requests.count]
                        let request = GenerateRequest(promptTokenIDs: promptIDs(n, length: spec.promptTokens),
                                                      maxTokens: UInt32(max(1, spec.outputTokens)), sampling: SamplingParams(greedy: true, topP: 1),
                                                      ignoreEOS: true)
                        let began = now()
                        var tokens: [Double] = []
                        var finished: GenerateFinished?
                        do {
                            for try await event in client.stream(Methods.Scheduler.generate.name, request, as: GenerateEvent.self) {
                                switch event.event {
                                case .token?: tokens.append(now())
                                case .finished(let done)?: finished = done
                                default: break
                                }
                                if now() > end { break }
                            }
                        } catch {
                            counter.failed(String(describing: error))
                            // A refused request (say, past the scheduler's per-client limit) is not retried at once.
                            try? await Task.sleep(for: .milliseconds(100))
                        }
                        counter.record(began: began, tokens: tokens, finished: finished)
                    }
                }
            }
            // The window is over once the timer task returns; stop the generations still running.
            await group.next()
            group.cancelAll()
        }
        return log.report(window: warmupSeconds...end, concurrency: concurrency)
    }
}

/// What one load run measured, in its window.
public struct ServingLoadReport: Sendable, Equatable {
    /// Tokens after each request's first (the decode iterations the simulator counts), per second.
    public var decodeTokensPerSecond: Double
    /// First token after sending (the admission queue's wait included), seconds.
    public var promptP50: Double, promptP99: Double
    /// Between consecutive tokens of a request, seconds.
    public var decodeP50: Double, decodeP99: Double
    public var finished: Int
    public var failures: Int
    public var firstFailure: String?
    public var concurrency: Int
    public var decodeTokens: Int
}

/// Token arrivals of every request, shared by the load's tasks.
final class TokenLog: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var decodeTimes: [Double] = []       // arrival of every token after a request's first
    private var decodeGaps: [(at: Double, gap: Double)] = []
    private var prompts: [(at: Double, latency: Double)] = []
    private var finishedAt: [Double] = []
    private var failures = 0
    private var firstFailure: String?

    func nextRequest() -> Int { lock.withLock { next += 1; return next - 1 } }

    func failed(_ reason: String) {
        lock.withLock { failures += 1; if firstFailure == nil { firstFailure = reason } }
    }

    func record(began: Double, tokens: [Double], finished: GenerateFinished?) {
        lock.withLock {
            guard let first = tokens.first else { return }
            // From sending, the wait in the scheduler's admission queue included, as the
            // simulator's closed loop counts it from the query's arrival.
            prompts.append((first, first - began))
            if let finished {
                if finished.reason == .maxTokens || finished.reason == .stop { finishedAt.append(tokens.last ?? first) }
                else { failures += 1; if firstFailure == nil { firstFailure = "\(finished.reason): \(finished.detail)" } }
            }
            for (previous, token) in zip(tokens, tokens.dropFirst()) {
                decodeTimes.append(token)
                decodeGaps.append((token, token - previous))
            }
        }
    }

    func report(window: ClosedRange<Double>, concurrency: Int) -> ServingLoadReport {
        lock.withLock {
            let seconds = max(1e-9, window.upperBound - window.lowerBound)
            let decode = decodeTimes.filter { window.contains($0) }.count
            let prompt = prompts.filter { window.contains($0.at) }.map(\.latency)
            let gaps = decodeGaps.filter { window.contains($0.at) }.map(\.gap)
            return ServingLoadReport(decodeTokensPerSecond: Double(decode) / seconds,
                                     promptP50: Self.percentile(prompt, 0.5), promptP99: Self.percentile(prompt, 0.99),
                                     decodeP50: Self.percentile(gaps, 0.5), decodeP99: Self.percentile(gaps, 0.99),
                                     finished: finishedAt.filter { window.contains($0) }.count, failures: failures, firstFailure: firstFailure,
                                     concurrency: concurrency, decodeTokens: decode)
        }
    }

    /// The simulator's percentile: the value at index ⌊q·n⌋ of the sorted values (0 when none).
    static func percentile(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
    }
}
