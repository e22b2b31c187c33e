import SchedulerCore
import ServiceKit
import Wire

/// What one Generate may ask of the scheduler, and one client may have waiting (issue 12):
/// tokens per request, checked at the front door, and Generates per client (API key) waiting
/// for their first token, taken when a request starts a run; both refused RESOURCE_EXHAUSTED. Room in the
/// admission queue as a whole is the queue's own limit (`--queue-limit`), checked and counted
/// where requests queue.
struct GenerateLimits: Sendable {
    var maxTokensPerRequest = 8192
    /// None by default: a key's concurrent calls (`--max-calls-per-client`, 64) already bound its
    /// waiting Generates, and a local stack's one key is every local client (a default of 32 refused
    /// most of `scripts/bench-serving`'s closed loop, millions of RESOURCE_EXHAUSTED in one run).
    /// Set it where several keys share a cluster, to keep one from filling the queue.
    static let defaultQueuedPerClient = 0
    var queuedPerClient = Self.queuedQuota(limit: defaultQueuedPerClient)
    let tally = StatTotals(["generate_refused_tokens"])

    func check(_ request: GenerateRequest) throws {
        let prompt = request.promptTokenIDs.isEmpty ? request.prompt.utf8.count : request.promptTokenIDs.count
        guard Int(request.maxTokens) + prompt <= maxTokensPerRequest else {
            tally.add("generate_refused_tokens")
            throw Status(.resourceExhausted, "Generate: \(prompt) prompt tokens (or bytes) + max_tokens \(request.maxTokens) is over the \(maxTokensPerRequest) tokens one request may use (--max-tokens-per-request / LATTICE_MAX_TOKENS_PER_REQUEST)")
        }
    }

    /// Takes a waiting slot of `client` (the caller's API key) for a new run. The run holds it
    /// (`SchedulerEngine.generate`), not the call: a run whose client went away still counts
    /// while it waits out the retry grace.
    func takeWaitingSlot(client: String?) throws -> ClientQuota.Hold {
        do { return try queuedPerClient.acquire(client) } catch let status as Status {
            throw Status(status.code, "Generate: \(status.message)")
        }
    }

    var stats: [Stat] { tally.stats + queuedPerClient.stats }

    static func queuedQuota(limit: Int) -> ClientQuota {
        ClientQuota(limit: limit, what: "Generates waiting for their first token",
                    setting: "--max-queued-per-client / LATTICE_MAX_QUEUED_PER_CLIENT", statName: "generate_refused_client_queued")
    }

    /// Flags over the environment over the defaults.
    static func from(tokens: Int?, queuedPerClient: Int?, environment: [String: String]) throws -> GenerateLimits {
        var limits = GenerateLimits()
        if let tokens = try positive(tokens, "LATTICE_MAX_TOKENS_PER_REQUEST", "max-tokens-per-request", environment: environment) {
            limits.maxTokensPerRequest = tokens
        }
        let queued = try ClientQuota.limit(flag: queuedPerClient, variable: "LATTICE_MAX_QUEUED_PER_CLIENT", defaultLimit: defaultQueuedPerClient, environment: environment)
        limits.queuedPerClient = queuedQuota(limit: queued)
        return limits
    }

    /// A positive count from its flag, else its environment variable, else nil (the default).
    static func positive(_ flag: Int?, _ variable: String, _ name: String, environment: [String: String]) throws -> Int? {
        if let flag { guard flag > 0 else { throw ValidationError("--\(name) must be at least 1") }; return flag }
        guard let text = environment[variable], !text.isEmpty else { return nil }
        guard let number = Int(text), number > 0 else { throw ValidationError("\(variable): '\(text)' is not a positive whole number") }
        return number
    }
}
