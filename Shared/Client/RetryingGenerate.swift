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
    /// with DATA_LOSS rather than mix two generations. Events are pulled from the server as the
    /// consumer asks for them (no buffer between), so a slow consumer pauses the server's sends
    /// through the transport's flow control; dropping the stream or cancelling the consuming
    /// task cancels the call.
    public func generate(_ request: GenerateRequest, retry: GenerateRetry = .default, deadline: Duration? = nil) -> AsyncThrowingStream<GenerateEvent, Error> {
        var request = request
        if request.requestID.isEmpty { request.requestID = Self.newRequestID() }
        let tries = GenerateTries(client: self, request: request, retry: retry, deadline: deadline)
        return AsyncThrowingStream { try await tries.next() }
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

/// The tries of one `generate`, pulled one event at a time (AsyncThrowingStream asks for one
/// element at a time, never concurrently, so its state needs no lock).
private final class GenerateTries: @unchecked Sendable {
    private let client: ServiceClient
    private let request: GenerateRequest
    private let retry: GenerateRetry
    private let deadline: Duration?
    private var attempt = 0
    private var resume: ResumedStream
    private var events: AsyncThrowingStream<GenerateEvent, Error>.AsyncIterator?
    private var done = false

    init(client: ServiceClient, request: GenerateRequest, retry: GenerateRetry, deadline: Duration?) {
        self.client = client
        self.request = request
        self.retry = retry
        self.deadline = deadline
        resume = ResumedStream(delivered: [], requestID: request.requestID)
    }

    /// The next event not delivered before; nil after the finish.
    func next() async throws -> GenerateEvent? {
        while !done {
            var current = events ?? startTry()
            let event: GenerateEvent?
            do {
                event = try await current.next()
            } catch let status as Status where status.code == .unavailable && mayRetry {
                await pause()
                continue
            } catch {
                done = true
                throw error
            }
            events = current
            guard let event else {
                guard mayRetry else {
                    done = true
                    throw Status(.unavailable, "Generate \(request.requestID): the stream ended without a finish, \(attempt) tries")
                }
                await pause()
                continue
            }
            do {
                guard let fresh = try resume.admit(event) else { continue }
                if case .finished? = fresh.event { done = true }
                return fresh
            } catch {
                done = true
                throw error
            }
        }
        return nil
    }

    private var mayRetry: Bool { attempt < retry.attempts && !Task.isCancelled }

    private func startTry() -> AsyncThrowingStream<GenerateEvent, Error>.AsyncIterator {
        attempt += 1
        return client.stream(Methods.Scheduler.generate.name, request, as: GenerateEvent.self, deadline: deadline).makeAsyncIterator()
    }

    /// Drops the failed try and waits out the backoff before the next; what it delivered stays
    /// in `resume`. A cancelled wait ends the stream quietly, as cancelling a consumer does.
    private func pause() async {
        events = nil
        do { try await Task.sleep(for: retry.delay(beforeRetry: attempt)) } catch { done = true }
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
