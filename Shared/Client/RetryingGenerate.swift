import Transport
import Wire

/// How `ServiceClient.generate` retries a Generate whose connection failed.
public struct GenerateRetry: Sendable {
    /// Tries in all, the first included.
    public var attempts = 8
    public var initialDelay: Duration = .milliseconds(200)
    public var maxDelay: Duration = .seconds(3)

    public init(attempts: Int = 8, initialDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(3)) {
        self.attempts = attempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    public static let `default` = GenerateRetry()
    public static let never = GenerateRetry(attempts: 1)
}

extension ServiceClient {
    /// scheduler/Generate that survives a dropped connection or a scheduler restart. The request
    /// gets an id (a random one when the caller left it empty); when the stream fails UNAVAILABLE
    /// or ends without finishing, it is asked again under the same id, after a backoff, up to
    /// `retry.attempts` times. The scheduler answers a retry with the generation in flight or
    /// just finished, or (after a restart) generates again, deterministically for the same
    /// request; events already delivered are skipped, so each token arrives once, in order.
    /// A retry that regenerates different tokens (sampling that is not reproducible) fails
    /// with DATA_LOSS rather than mix two generations.
    public func generate(_ request: GenerateRequest, retry: GenerateRetry = .default, deadline: Duration? = nil) -> AsyncThrowingStream<GenerateEvent, Error> {
        var request = request
        if request.requestID.isEmpty { request.requestID = Self.newRequestID() }
        return AsyncThrowingStream { continuation in
            let task = Task { [request] in
                var delivered: [UInt32] = []
                var attempt = 0
                while true {
                    attempt += 1
                    var resume = ResumedStream(delivered: delivered, requestID: request.requestID)
                    do {
                        for try await event in stream(Methods.Scheduler.generate.name, request, as: GenerateEvent.self, deadline: deadline) {
                            guard let fresh = try resume.admit(event) else { continue }
                            continuation.yield(fresh)
                            if case .finished? = fresh.event { continuation.finish(); return }
                        }
                        delivered = resume.delivered
                        guard attempt < retry.attempts, !Task.isCancelled else {
                            throw Status(.unavailable, "Generate \(request.requestID): the stream ended without a finish, \(attempt) tries")
                        }
                    } catch let status as Status where status.code == .unavailable && attempt < retry.attempts && !Task.isCancelled {
                        delivered = resume.delivered
                    } catch {
                        continuation.finish(throwing: error)
                        return
                    }
                    try? await Task.sleep(for: retry.delay(beforeRetry: attempt))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func newRequestID() -> String {
        "gen-" + (0..<2).map { _ in
            let text = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }.joined()
    }
}

extension GenerateRetry {
    func delay(beforeRetry attempt: Int) -> Duration {
        let doubled = initialDelay * (1 << min(max(attempt - 1, 0), 20))
        return min(doubled, maxDelay) * Double.random(in: 0.5...1)
    }
}

/// One try's events against what earlier tries delivered: token events already delivered are
/// checked and dropped, later ones pass and are remembered.
struct ResumedStream {
    private(set) var delivered: [UInt32]
    let requestID: String

    init(delivered: [UInt32], requestID: String) {
        self.delivered = delivered
        self.requestID = requestID
    }

    /// The event to hand on, or nil for one already handed on.
    mutating func admit(_ event: GenerateEvent) throws -> GenerateEvent? {
        guard case .token(let token)? = event.event else { return event }
        let index = Int(token.index)
        if index < delivered.count {
            guard delivered[index] == token.tokenID else {
                throw Status(.dataLoss, "Generate \(requestID): the retry generated token \(token.tokenID) at index \(index) where the first try gave \(delivered[index]); its sampling is not reproducible (set sampling.seed, or greedy), so the generation cannot be resumed")
            }
            return nil
        }
        guard index == delivered.count else {
            throw Status(.internal, "Generate \(requestID): token index \(index) arrived after \(delivered.count) tokens; the scheduler skipped some")
        }
        delivered.append(token.tokenID)
        return event
    }
}
