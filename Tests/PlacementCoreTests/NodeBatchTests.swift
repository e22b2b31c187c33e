import Foundation
import Testing
@testable import PlacementCore

@Suite struct NodeBatchTests {
    /// A profile whose per-layer time is 1 ms per prompt token; decode 6 ms per sequence up to 2, then 1 ms more each.
    static let profile = GPUProfile(type: "X", prompt: LatencyCurve(points: [(0, 0), (1000, 1.0)]),
                                    decode: LatencyCurve(points: [(0, 0), (2, 0.012), (100, 0.110)]),
                                    capacity: GPUCapacityTable(maxLayers: 4, kvCapacity: [1000, 1000, 1000, 1000],
                                                               promptMaxRequests: [2, 2, 2, 2], decodeMaxTokens: [3, 3, 3, 2]))

    static func prompt(_ r: Int, _ tokens: Int, from layer: Int = 0) -> NodeBatch.Item {
        NodeBatch.Item(request: r, hop: 0, tokens: tokens, isPrompt: true, context: 0, firstLayer: layer)
    }
    static func decode(_ r: Int, context: Int = 100, from layer: Int = 0) -> NodeBatch.Item {
        NodeBatch.Item(request: r, hop: 0, tokens: 1, isPrompt: false, context: context, firstLayer: layer)
    }

    /// Limits come from the type's table at the layers held: 2 prompts of up to 2 × 2048 tokens,
    /// 3 decodes with 4 layers → 2, and 1000 context tokens per decode sequence.
    @Test func limitsFollowTheMeasuredTable() {
        let three = NodeBatch.Limits(profile: Self.profile, layers: 3)
        #expect(three.prompts == 2 && three.rule.promptTokens == 4096 && three.decodes == 3 && three.rule.context == 3000 && three.rule.tokens == .max)
        #expect(NodeBatch.Limits(profile: Self.profile, layers: 4).decodes == 2)
    }

    /// FIFO within limits: the third prompt and the fourth decode wait; so does a decode whose
    /// context would pass the limit, while a later one that fits joins.
    @Test func batchesStopAtEachLimitAndSkipWhatDoesNotFit() {
        let limits = NodeBatch.Limits(profile: Self.profile, layers: 1)
        let queue = [Self.prompt(1, 500), Self.decode(2), Self.prompt(3, 500), Self.prompt(4, 500),
                     Self.decode(5, context: 2950), Self.decode(6), Self.decode(7)]
        let (batch, rest) = NodeBatch.form(queue, limits: limits)
        #expect(batch.map(\.request) == [1, 2, 3, 6, 7])
        #expect(rest.map(\.request) == [4, 5])
    }

    /// Per layer: prompt time of the prompt tokens there plus decode time of the decodes there; a
    /// lone decode costs twice the curve; items entering part-way only pay for their layers.
    @Test func secondsAddEachLayersWork() {
        let full = NodeBatch.seconds([Self.prompt(1, 500), Self.decode(2)], range: 0..<2, profile: Self.profile)
        #expect(abs(full - 2 * (0.5 + 2 * 0.006)) < 1e-12, "\(full)")
        let staggered = NodeBatch.seconds([Self.decode(1, from: 10), Self.decode(2, from: 11)], range: 10..<12, profile: Self.profile)
        #expect(abs(staggered - (2 * 0.006 + 0.012)) < 1e-12, "\(staggered)")
        #expect(abs(NodeBatch.overheadSeconds(tokens: 1000, activationBytes: 16384) - (16_384_000 / 4e9 + 16_384_000 / 5e9)) < 1e-15)
    }
}
