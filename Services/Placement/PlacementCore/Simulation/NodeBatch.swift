import Foundation

/// How one node forms and times a batch, as the Helix artifact's simulator does: FIFO over its
/// queue, prompts while the request and token limits allow, decodes while the sequence and
/// context limits allow (an item that does not fit waits for a later batch), within a token
/// budget when one is set (`BatchLimits`, shared with the live workers); then layer by
/// layer, each layer running the items that have reached it (partial inference enters a node
/// part-way) at the profile's per-layer time for that many prompt and decode tokens.
struct NodeBatch {
    struct Item { var request: Int; var hop: Int; var tokens: Int; var isPrompt: Bool; var context: Int; var firstLayer: Int; var arrived = 0.0 }

    /// A node's batch limits with `layers` loaded, from its GPU type's measured capacities, and
    /// `tokens` a batch at most (none in Helix's simulator).
    struct Limits {
        var rule: BatchLimits

        init(profile: GPUProfile, layers: Int, tokens: Int = .max) {
            let prompts = profile.capacity.prompts(layers: layers)
            // An unmeasured type decodes at most the largest batch its profile timed.
            let decodes = profile.capacity.decodes(layers: layers, fallbackDecode: profile.decode.points.last?.tokens ?? 1)
            rule = BatchLimits(prompts: prompts, promptTokens: prompts * HelixConstants.maxInputLength, decodes: decodes,
                               context: decodes * HelixConstants.decodeContextPerSequence, tokens: tokens)
        }

        var prompts: Int { rule.prompts }
        var decodes: Int { rule.decodes }
    }

    /// Splits `queue` into the batch to run now and the items that wait (`BatchLimits.split`, the
    /// rule live workers form their batches by).
    static func form(_ queue: [Item], limits: Limits) -> (batch: [Item], rest: [Item]) {
        limits.rule.split(queue, tokens: \.tokens, isPrompt: \.isPrompt, context: \.context)
    }

    /// Seconds to run `batch` through layers `range` of a node with `profile`: per layer, the
    /// prompt time of the prompt tokens there plus the decode time of the decode tokens there.
    static func seconds(_ batch: [Item], range: Range<Int>, profile: GPUProfile) -> Double {
        var promptsFrom = [Int](repeating: 0, count: range.count), decodesFrom = promptsFrom
        for item in batch {
            let offset = min(max(0, item.firstLayer - range.lowerBound), range.count - 1)
            if item.isPrompt { promptsFrom[offset] += item.tokens } else { decodesFrom[offset] += 1 }
        }
        var total = 0.0, prompt = 0, decode = 0
        for layer in 0..<range.count {
            prompt += promptsFrom[layer]
            decode += decodesFrom[layer]
            if prompt > 0 { total += profile.prompt.seconds(Double(prompt)) }
            if decode > 0 { total += HelixConstants.decodeLayerTime(profiled: profile.decode.seconds(Double(decode)), decodes: decode) }
        }
        return total
    }

    /// Host-side cost of `tokens` activations received since the node last started a batch.
    static func overheadSeconds(tokens: Int, activationBytes: Double) -> Double {
        let bytes = Double(tokens) * activationBytes
        return bytes / HelixConstants.concatBytesPerSecond + bytes / HelixConstants.copyBytesPerSecond
    }
}
