import Testing
@testable import PlacementCore

/// The batch rule live workers and the simulator share (`BatchLimits`).
@Suite struct BatchLimitsTests {
    struct Item: Equatable { var name: String; var tokens: Int; var context = 0 }
    static func split(_ limits: BatchLimits, _ queue: [Item]) -> (batch: [String], rest: [String]) {
        let (batch, rest) = limits.split(queue, tokens: \.tokens, isPrompt: { $0.tokens > 1 }, context: \.context)
        return (batch.map(\.name), rest.map(\.name))
    }
    static let queue = [Item(name: "p1", tokens: 200), Item(name: "d1", tokens: 1, context: 300), Item(name: "p2", tokens: 200),
                        Item(name: "d2", tokens: 1, context: 300), Item(name: "p3", tokens: 200), Item(name: "d3", tokens: 1, context: 300)]

    /// Past the token budget the rest waits in order, even items that would fit: a worker's
    /// `--max-batch-tokens` as the simulator's `--batch-tokens`.
    @Test func pastTheTokenBudgetTheRestWaitsInOrder() {
        let (batch, rest) = Self.split(BatchLimits(tokens: 402), Self.queue)
        #expect(batch == ["p1", "d1", "p2", "d2"] && rest == ["p3", "d3"])
        // No budget (Helix's simulator): everything within the kinds' limits.
        #expect(Self.split(.unlimited, Self.queue).batch.count == 6)
        // A zero budget takes nothing (a worker keeping a step for a long prompt's chunk).
        #expect(Self.split(BatchLimits(tokens: 0), Self.queue) == ([], Self.queue.map(\.name)))
    }

    /// A kind's limits skip an item without holding up the ones behind it; an item over every
    /// limit runs alone rather than stall the node.
    @Test func kindLimitsSkipAndNothingStalls() {
        let (batch, rest) = Self.split(BatchLimits(prompts: 1, decodes: 2, context: 650), Self.queue)
        #expect(batch == ["p1", "d1", "d2"] && rest == ["p2", "p3", "d3"])
        #expect(Self.split(BatchLimits(promptTokens: 100), [Item(name: "long", tokens: 500)]).batch == ["long"])
    }
}
