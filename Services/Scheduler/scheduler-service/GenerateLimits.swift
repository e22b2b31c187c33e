import SchedulerCore
import ServiceKit
import Wire

/// What one Generate may ask of the scheduler (issue 12): tokens per request, and room in the
/// admission queue. Past either the answer is RESOURCE_EXHAUSTED, before anything is queued.
struct GenerateLimits: Sendable {
    var maxTokensPerRequest = 8192
    var maxQueued = 1024
    let tally = StatTotals(["generate_refused_tokens", "generate_refused_queue_full"])

    func check(_ request: GenerateRequest, queued: () -> Int) throws {
        let prompt = request.promptTokenIDs.isEmpty ? request.prompt.utf8.count : request.promptTokenIDs.count
        guard Int(request.maxTokens) + prompt <= maxTokensPerRequest else {
            tally.add("generate_refused_tokens")
            throw Status(.resourceExhausted, "Generate: \(prompt) prompt tokens (or bytes) + max_tokens \(request.maxTokens) is over the \(maxTokensPerRequest) tokens one request may use (--max-tokens-per-request / LATTICE_MAX_TOKENS_PER_REQUEST)")
        }
        let waiting = queued()
        guard waiting < maxQueued else {
            tally.add("generate_refused_queue_full")
            throw Status(.resourceExhausted, "Generate: \(waiting) requests already wait for admission, the most this scheduler queues (--max-queued / LATTICE_MAX_QUEUED); retry later")
        }
    }

    /// Flags over the environment over the defaults.
    static func from(tokens: Int?, queued: Int?, environment: [String: String]) throws -> GenerateLimits {
        var limits = GenerateLimits()
        func value(_ flag: Int?, _ variable: String, _ name: String) throws -> Int? {
            if let flag { guard flag > 0 else { throw ValidationError("--\(name) must be at least 1") }; return flag }
            guard let text = environment[variable], !text.isEmpty else { return nil }
            guard let number = Int(text), number > 0 else { throw ValidationError("\(variable): '\(text)' is not a positive whole number") }
            return number
        }
        if let tokens = try value(tokens, "LATTICE_MAX_TOKENS_PER_REQUEST", "max-tokens-per-request") { limits.maxTokensPerRequest = tokens }
        if let queued = try value(queued, "LATTICE_MAX_QUEUED", "max-queued") { limits.maxQueued = queued }
        return limits
    }
}
