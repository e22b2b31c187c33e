import SchedulerCore
import ServiceKit
import Wire

/// What one Generate may ask of the scheduler (issue 12): tokens per request, refused
/// RESOURCE_EXHAUSTED before anything is queued. Room in the admission queue is the queue's own
/// limit (`--queue-limit`), checked and counted where requests queue.
struct GenerateLimits: Sendable {
    var maxTokensPerRequest = 8192
    let tally = StatTotals(["generate_refused_tokens"])

    func check(_ request: GenerateRequest) throws {
        let prompt = request.promptTokenIDs.isEmpty ? request.prompt.utf8.count : request.promptTokenIDs.count
        guard Int(request.maxTokens) + prompt <= maxTokensPerRequest else {
            tally.add("generate_refused_tokens")
            throw Status(.resourceExhausted, "Generate: \(prompt) prompt tokens (or bytes) + max_tokens \(request.maxTokens) is over the \(maxTokensPerRequest) tokens one request may use (--max-tokens-per-request / LATTICE_MAX_TOKENS_PER_REQUEST)")
        }
    }

    /// Flags over the environment over the defaults.
    static func from(tokens: Int?, environment: [String: String]) throws -> GenerateLimits {
        var limits = GenerateLimits()
        if let tokens = try positive(tokens, "LATTICE_MAX_TOKENS_PER_REQUEST", "max-tokens-per-request", environment: environment) {
            limits.maxTokensPerRequest = tokens
        }
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
