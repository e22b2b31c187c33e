/// The one rule a node forms its next batch by, live (a worker's queue, `ForwardQueue.take`) and
/// simulated (`NodeBatch.form`): oldest first; a prompt or a decode step over its kind's limits
/// waits for a later batch without holding up the items behind it; past the token budget the
/// rest waits in order. An emulated GPU's limits are its type's measured capacities (the Helix
/// artifact's); the token budget is the worker's `--max-batch-tokens` (Helix's simulator has none).
public struct BatchLimits: Sendable, Equatable {
    public var prompts: Int
    public var promptTokens: Int
    public var decodes: Int
    /// Context tokens of the decode steps together.
    public var context: Int
    /// Prompt and decode tokens together.
    public var tokens: Int

    public init(prompts: Int = .max, promptTokens: Int = .max, decodes: Int = .max, context: Int = .max, tokens: Int = .max) {
        self.prompts = prompts
        self.promptTokens = promptTokens
        self.decodes = decodes
        self.context = context
        self.tokens = tokens
    }

    public static let unlimited = BatchLimits()

    /// Splits `queue` (oldest first) into the batch to run now and the items that wait. A
    /// non-empty queue never gives an empty batch (an item over every limit runs alone rather
    /// than stall the node) unless the token budget is 0.
    public func split<Item>(_ queue: [Item], tokens count: (Item) -> Int, isPrompt: (Item) -> Bool,
                            context contextOf: (Item) -> Int) -> (batch: [Item], rest: [Item]) {
        guard tokens > 0 else { return ([], queue) }
        var batch: [Item] = [], rest: [Item] = []
        var prompts = 0, promptTokens = 0, decodes = 0, context = 0, total = 0, full = false
        for item in queue {
            let n = count(item), prompt = isPrompt(item), c = prompt ? 0 : contextOf(item)
            // (Differences, not sums: a limit may be Int.max.)
            let withinKind = prompt ? prompts < self.prompts && n <= self.promptTokens - promptTokens
                                    : decodes < self.decodes && c <= self.context - context
            guard withinKind else { rest.append(item); continue }
            guard !full, batch.isEmpty || n <= tokens - total else { full = true; rest.append(item); continue }
            batch.append(item)
            total += n
            if prompt { prompts += 1; promptTokens += n } else { decodes += 1; context += c }
        }
        if batch.isEmpty, let first = rest.first { return ([first], Array(rest.dropFirst())) }
        return (batch, rest)
    }
}
