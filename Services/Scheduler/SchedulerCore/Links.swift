import Wire

/// How the scheduler reaches workers (the service implements it over the transport).
public protocol WorkerLink: Sendable {
    /// worker/Forward to the hop; throws the worker's Status or the transport's (UNAVAILABLE…).
    func forward(_ request: ForwardRequest, to hop: Hop) async throws -> ForwardResponse
    /// worker/Release of these request keys on the hop.
    func release(_ keys: [String], on hop: Hop) async throws
    /// Whether the worker answers Health within `within` (after a route through it failed, or
    /// its heartbeats stopped): a busy worker answers late, a dead one not at all.
    func isAlive(_ hop: Hop, within: Duration) async -> Bool
    /// worker/MeasureLinks on the worker at `address`: its links to `peers`.
    func measureLinks(from address: String, to peers: [String], probeBytes: UInt32, deadline: Duration) async throws -> [LinkMeasurement]
}

/// How the scheduler asks placement-service for a plan.
public protocol PlacementLink: Sendable {
    func plan(_ request: PlanRequest) async throws -> PlanResult
}

/// Text ⇄ token ids for the served model.
public protocol TextCodec: Sendable {
    func encode(_ text: String) throws -> [UInt32]
    func decode(_ ids: [UInt32]) -> String
    /// The text the last of `generated` adds to the stream: a character split across tokens
    /// comes out whole with the token that completes it.
    func streamText(_ generated: [UInt32]) -> String
    /// One user message in the model's chat template, ending where the answer begins.
    func chatPrompt(user: String) throws -> String
}

extension TextCodec {
    public func streamText(_ generated: [UInt32]) -> String { generated.last.map { decode([$0]) } ?? "" }
}

/// Delivers ForwardResults from last stages to the request attempt waiting for them.
public final class ResultRouter: Sendable {
    private let waiting = Protected([String: AsyncStream<ForwardResult>.Continuation]())

    public init() {}

    /// A stream of the results for `key` until `close(key)`.
    func open(_ key: String) -> AsyncStream<ForwardResult> {
        let (stream, continuation) = AsyncStream<ForwardResult>.makeStream()
        waiting.withLock { $0[key] = continuation }
        return stream
    }

    func close(_ key: String) {
        waiting.withLock { $0.removeValue(forKey: key) }?.finish()
    }

    /// Hands results to their attempts; returns how many found no one waiting (late or unknown).
    @discardableResult
    public func deliver(_ results: [ForwardResult]) -> Int {
        var unknown = 0
        for result in results {
            if let continuation = waiting.withLock({ $0[result.requestID] }) { continuation.yield(result) } else { unknown += 1 }
        }
        return unknown
    }

    /// Fails an attempt from inside the scheduler (its route broke, or it was cancelled).
    public func fail(_ key: String, _ reason: String) {
        deliver([ForwardResult(requestID: key, error: reason)])
    }
}
