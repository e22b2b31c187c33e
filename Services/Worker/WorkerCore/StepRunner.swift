/// Turns admitted slices into stage steps and the steps' output back into per-slice outcomes.
struct StepRunner<Tag: Sendable> {
    let stage: WorkerStage

    struct Refusal: Error { var message: String }

    /// Runs slices as one step: each slice's outcome, or why the stage refused the whole step.
    func run(_ group: [AcceptedSlice<Tag>], launched: ContinuousClock.Instant = .now) async -> Result<[(AcceptedSlice<Tag>, SliceOutcome)], Refusal> {
        var entries: [BatchEntry] = []
        entries.reserveCapacity(group.count)
        var tokens: [Int32] = []
        var hiddenBytes: [UInt8] = []
        var hidden: (encoding: HiddenEncoding, width: Int)?
        for accepted in group {
            let slice = accepted.slice
            entries.append(BatchEntry(requestID: accepted.id, position: Int(slice.positions[0]), tokenCount: slice.tokenCount,
                                      wantsToken: slice.samples, sampling: slice.sampling))
            if let states = slice.hiddenInput {
                hidden = (states.encoding, Int(states.shape.last ?? 0))
                // One slice's bytes are used as they are (no copy); several are joined once.
                if group.count == 1 { hiddenBytes = states.bytes } else { hiddenBytes += states.bytes }
            } else {
                tokens += slice.tokenIDs.map { Int32(truncatingIfNeeded: $0) }
            }
        }
        let rows = entries.reduce(0) { $0 + $1.tokenCount }
        let input: StageInput = hidden.map { .hidden(HiddenStates(rows: rows, width: $0.width, encoding: $0.encoding, bytes: hiddenBytes)) }
            ?? .tokens(tokens)
        switch await stage.step(StepBatch(entries: entries, input: input, launched: launched)) {
        case .failure(let error):
            return .failure(Refusal(message: error.description))
        case .success(let output):
            if let hidden = output.hidden {
                if group.count == 1 { return .success([(group[0], .hidden(hidden))]) }
                let rowBytes = hidden.width * hidden.encoding.byteWidth
                var offset = 0
                return .success(group.map { accepted in
                    let n = accepted.slice.tokenCount
                    let rows = Array(hidden.bytes[(offset * rowBytes)..<((offset + n) * rowBytes)])
                    offset += n
                    return (accepted, .hidden(HiddenStates(rows: n, width: hidden.width, encoding: hidden.encoding, bytes: rows)))
                })
            }
            // A prompt's chunk before its last leaves nothing to pass on: no row, no token.
            return .success(group.map { ($0, $0.slice.samples ? Self.token(for: $0.id, in: output) : .hidden(HiddenStates.none)) })
        }
    }

    /// The token a step sampled for a request, with its log-probability when logits were kept.
    static func token(for id: UInt64, in output: StepOutput) -> SliceOutcome {
        guard let sampled = output.tokens.first(where: { $0.requestID == id }) else { return .failure("the last stage produced no token") }
        let logprob = output.logits[id].map { logProbability(of: Int(sampled.token), in: $0) }
        return .token(UInt32(truncatingIfNeeded: sampled.token), logprob, UInt32(truncatingIfNeeded: sampled.position))
    }
}

extension HiddenStates {
    /// No rows: what a prompt's chunk before its last yields on the last stage.
    static let none = HiddenStates(rows: 0, width: 0, encoding: .float32, bytes: [])
}
