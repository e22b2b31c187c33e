/// The checks a Forward passes before anything is queued: the loaded range, the input form of
/// this stage (token ids first, hidden states later), positions continuing the cached
/// sequence, a next hop or a reply address, KV room for the whole call, and — once the worker
/// is stopping — that the request is already held here.
enum ForwardAdmission {
    static func check(_ slices: [ForwardSlice], against ledger: StageLedger, workerID: String) throws(ForwardRefusal) {
        guard let shape = ledger.shape else {
            throw ForwardRefusal(.failedPrecondition, "worker/Forward: worker \(workerID) has no layers loaded yet; wait for its plan assignment or call worker/LoadLayers")
        }
        guard !slices.isEmpty else { throw ForwardRefusal(.invalidArgument, "worker/Forward: the request has no items") }
        var seen = Set<String>()
        var newBlocks = 0
        let held = ledger.lengths.values.reduce(0) { $0 + shape.blocks($1) }
        for (index, slice) in slices.enumerated() {
            let at = "worker/Forward item \(index) (request '\(slice.requestID)')"
            guard !slice.requestID.isEmpty else { throw ForwardRefusal(.invalidArgument, "\(at): request_id is empty") }
            guard seen.insert(slice.requestID).inserted else { throw ForwardRefusal(.invalidArgument, "\(at): the request appears twice in one Forward") }
            guard Int(slice.layers.start) == shape.layers.lowerBound, Int(slice.layers.end) == shape.layers.upperBound else {
                throw ForwardRefusal(.failedPrecondition, "\(at): asks for layers [\(slice.layers.start), \(slice.layers.end)) but worker \(workerID) holds [\(shape.layers.lowerBound), \(shape.layers.upperBound))")
            }
            try checkTokens(slice, shape: shape, at: at)
            try checkNext(slice, shape: shape, at: at)
            guard !ledger.draining || ledger.lengths[slice.requestID] != nil else {
                throw ForwardRefusal(.unavailable, "\(at): worker \(workerID) is stopping (draining its requests) and takes no new ones; route elsewhere")
            }
            let cached = ledger.lengths[slice.requestID] ?? 0
            guard Int(slice.positions[0]) == cached else {
                throw ForwardRefusal(.failedPrecondition, "\(at): starts at position \(slice.positions[0]) but \(cached) tokens are cached here; positions must continue the cached sequence")
            }
            newBlocks += shape.blocks(cached + slice.tokenCount) - shape.blocks(cached)
        }
        guard held + newBlocks <= shape.totalBlocks else {
            throw ForwardRefusal(.resourceExhausted, "worker/Forward: KV cache of worker \(workerID) is full: the batch needs \(newBlocks) more blocks of \(shape.blockSize) tokens, \(shape.totalBlocks - held) are free; release finished requests or route elsewhere")
        }
    }

    /// Positions, and the input this stage takes for them.
    private static func checkTokens(_ slice: ForwardSlice, shape: StageShape, at: String) throws(ForwardRefusal) {
        let n = slice.tokenCount
        guard n > 0 else { throw ForwardRefusal(.invalidArgument, "\(at): positions is empty") }
        for (i, p) in slice.positions.enumerated() where Int(p) != Int(slice.positions[0]) + i {
            throw ForwardRefusal(.invalidArgument, "\(at): positions must be consecutive (position \(i) is \(p))")
        }
        if shape.isFirst {
            guard slice.tokenIDs.count == n, slice.hiddenInput == nil else {
                throw ForwardRefusal(.invalidArgument, "\(at): the first stage takes \(n) token_ids (one per position) and no hidden states; got \(slice.tokenIDs.count) ids")
            }
            if let bad = slice.tokenIDs.first(where: { Int($0) >= shape.vocabSize }) {
                throw ForwardRefusal(.invalidArgument, "\(at): token id \(bad) is outside the vocabulary [0, \(shape.vocabSize))")
            }
        } else {
            guard slice.tokenIDs.isEmpty, let hidden = slice.hidden else {
                throw ForwardRefusal(.invalidArgument, "\(at): this stage starts at layer \(shape.layers.lowerBound) and takes hidden states, not token ids")
            }
            let bytes = n * shape.hiddenSize * hidden.encoding.byteWidth
            guard hidden.shape == [UInt32(n), UInt32(shape.hiddenSize)], hidden.bytes.count == bytes else {
                throw ForwardRefusal(.invalidArgument, "\(at): hidden states must have shape [\(n), \(shape.hiddenSize)] and \(bytes) bytes; got shape \(hidden.shape) and \(hidden.bytes.count) bytes")
            }
        }
    }

    /// Where the output goes: a reply address on the last stage, else a hop that continues the layers.
    private static func checkNext(_ slice: ForwardSlice, shape: StageShape, at: String) throws(ForwardRefusal) {
        if shape.isLast {
            guard !slice.replyTo.isEmpty else { throw ForwardRefusal(.invalidArgument, "\(at): reply_to is empty; the last stage needs the address to send tokens to") }
        } else {
            guard let next = slice.nextHop else {
                throw ForwardRefusal(.invalidArgument, "\(at): route is empty but this stage ends at layer \(shape.layers.upperBound) of \(shape.totalLayers); name the next hop")
            }
            guard Int(next.start) == shape.layers.upperBound, next.end > next.start else {
                throw ForwardRefusal(.invalidArgument, "\(at): the next hop runs [\(next.start), \(next.end)) but this stage ends at \(shape.layers.upperBound)")
            }
        }
    }
}
