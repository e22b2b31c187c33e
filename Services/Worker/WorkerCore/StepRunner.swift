/// Turns admitted slices into stage steps and the steps' output back into per-slice outcomes.
struct StepRunner<Tag: Sendable> {
    let stage: WorkerStage

    struct Refusal: Error { var message: String }

    /// Runs slices as one step: each slice's outcome, or why the stage refused the whole step.
    func run(_ group: [AcceptedSlice<Tag>]) async -> Result<[(AcceptedSlice<Tag>, SliceOutcome)], Refusal> {
        var entries: [BatchEntry] = []
        var tokens: [Int32] = []
        var hiddenBytes: [UInt8] = []
        var encoding = HiddenEncoding.float32
        var width = 0
        for accepted in group {
            let slice = accepted.slice
            entries.append(BatchEntry(requestID: accepted.id, position: Int(slice.positions[0]), tokenCount: slice.tokenCount,
                                      wantsToken: true, sampling: slice.sampling))
            if let hidden = slice.hiddenInput {
                encoding = hidden.encoding
                width = Int(hidden.shape.last ?? 0)
                hiddenBytes += hidden.bytes
            } else {
                tokens += slice.tokenIDs.map { Int32(truncatingIfNeeded: $0) }
            }
        }
        let rows = entries.reduce(0) { $0 + $1.tokenCount }
        let input: StageInput = hiddenBytes.isEmpty ? .tokens(tokens)
            : .hidden(HiddenStates(rows: rows, width: width, encoding: encoding, bytes: hiddenBytes))
        switch await stage.step(StepBatch(entries: entries, input: input)) {
        case .failure(let error):
            return .failure(Refusal(message: error.description))
        case .success(let output):
            if let hidden = output.hidden {
                let rowBytes = hidden.width * hidden.encoding.byteWidth
                var offset = 0
                return .success(group.map { accepted in
                    let n = accepted.slice.tokenCount
                    let rows = Array(hidden.bytes[(offset * rowBytes)..<((offset + n) * rowBytes)])
                    offset += n
                    return (accepted, .hidden(HiddenStates(rows: n, width: hidden.width, encoding: hidden.encoding, bytes: rows)))
                })
            }
            return .success(group.map { ($0, Self.token(for: $0.id, in: output)) })
        }
    }

    /// Runs one long slice in steps of at most `chunk` tokens; only the last step samples. The
    /// hidden states of all steps go on together, as one slice.
    func runChunked(_ accepted: AcceptedSlice<Tag>, chunk: Int) async -> [(AcceptedSlice<Tag>, SliceOutcome)] {
        let slice = accepted.slice
        let total = slice.tokenCount, first = Int(slice.positions[0])
        let hiddenIn = slice.hiddenInput
        let widthIn = Int(hiddenIn?.shape.last ?? 0)
        var hiddenOut: HiddenStates?
        var last: StepOutput?
        var offset = 0
        while offset < total {
            let count = min(chunk, total - offset)
            let entry = BatchEntry(requestID: accepted.id, position: first + offset, tokenCount: count,
                                   wantsToken: offset + count == total, sampling: slice.sampling)
            let input: StageInput
            if let hiddenIn {
                let rowBytes = widthIn * hiddenIn.encoding.byteWidth
                input = .hidden(HiddenStates(rows: count, width: widthIn, encoding: hiddenIn.encoding,
                                             bytes: Array(hiddenIn.bytes[(offset * rowBytes)..<((offset + count) * rowBytes)])))
            } else {
                input = .tokens(slice.tokenIDs[offset..<(offset + count)].map { Int32(truncatingIfNeeded: $0) })
            }
            switch await stage.step(StepBatch(entries: [entry], input: input)) {
            case .failure(let error): return [(accepted, .failure(error.description))]
            case .success(let output):
                if let hidden = output.hidden {
                    var joined = hiddenOut ?? HiddenStates(rows: 0, width: hidden.width, encoding: hidden.encoding, bytes: [])
                    joined.rows += hidden.rows
                    joined.bytes += hidden.bytes
                    hiddenOut = joined
                }
                last = output
            }
            offset += count
        }
        if let hiddenOut, !hiddenOut.bytes.isEmpty {
            return [(accepted, .hidden(HiddenStates(rows: total, width: hiddenOut.width, encoding: hiddenOut.encoding, bytes: hiddenOut.bytes)))]
        }
        guard let last else { return [(accepted, .failure("the last stage produced no token"))] }
        return [(accepted, Self.token(for: accepted.id, in: last))]
    }

    /// The token a step sampled for a request, with its log-probability when logits were kept.
    static func token(for id: UInt64, in output: StepOutput) -> SliceOutcome {
        guard let sampled = output.tokens.first(where: { $0.requestID == id }) else { return .failure("the last stage produced no token") }
        let logprob = output.logits[id].map { logProbability(of: Int(sampled.token), in: $0) }
        return .token(UInt32(truncatingIfNeeded: sampled.token), logprob, UInt32(truncatingIfNeeded: sampled.position))
    }
}
