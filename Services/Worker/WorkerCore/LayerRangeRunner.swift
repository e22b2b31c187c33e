import CKernels
import Foundation
import Tensor

/// The CPU backend: real Llama math for layers [start, end) of a model, with its own paged
/// KV cache and, on the last stage, per-request samplers.
public final class LayerRangeRunner: StageExecutor {
    public let weights: StageWeights
    public let cache: KVCache
    public let hiddenEncoding: HiddenEncoding
    /// Keep the logits of sampled rows in the output (costs a copy of vocab floats per row).
    public var returnsLogits = false
    /// Largest batch (in tokens) a step accepts; bounds the activations a peer can make us allocate.
    public var maxBatchTokens = 8192
    /// Query rows per attention tile during prefill.
    static let queryTile = 128
    /// Up to this many query rows a step attends row by row with the decode kernel, so a
    /// sequence's outputs do not depend on how it was cut into steps (a re-prefill after
    /// re-planning gives the tokens decoding gave); longer chunks go through BLAS, whose cost
    /// grows with the chunk only linearly per query tile.
    static let rowByRowQueries = 1024
    private let inverseFrequencies: [Float]
    private var samplers: [UInt64: RequestSampler] = [:]
    private var counters = (steps: 0, tokens: 0, seconds: 0.0, lastBatch: 0)

    public var layers: Range<Int> { weights.layers }
    public var totalLayers: Int { weights.config.layerCount }
    public var hiddenSize: Int { weights.config.hiddenSize }
    public var config: LlamaConfig { weights.config }

    /// - Parameters:
    ///   - kvBlocks: number of KV blocks; capacity is `kvBlocks · blockSize` tokens for each layer held.
    public init(weights: StageWeights, kvBlocks: Int, blockSize: Int = 16, hiddenEncoding: HiddenEncoding = .float32) throws {
        self.weights = weights
        self.hiddenEncoding = hiddenEncoding
        cache = try KVCache(blockSize: blockSize, blockCount: kvBlocks, layerCount: weights.layers.count, kvWidth: weights.config.kvWidth)
        inverseFrequencies = weights.config.ropeInverseFrequencies()
    }

    /// Loads layers `layers` of the model in `directory` and sizes the KV cache.
    public convenience init(directory: any WeightSource, layers: Range<Int>, kvBlocks: Int, blockSize: Int = 16,
                            hiddenEncoding: HiddenEncoding = .float32, progress: (Int, Int) -> Void = { _, _ in }) throws {
        try self.init(weights: StageWeights.load(from: directory, layers: layers, progress: progress),
                      kvBlocks: kvBlocks, blockSize: blockSize, hiddenEncoding: hiddenEncoding)
    }

    public var stats: StageStats {
        StageStats(kvCapacityEntries: cache.capacityEntries, kvUsedEntries: cache.usedEntries, kvBlockSize: cache.blockSize,
                   freeTokens: cache.freeTokens, activeRequests: cache.requestCount, steps: counters.steps,
                   tokensProcessed: counters.tokens, busySeconds: counters.seconds, lastBatchTokens: counters.lastBatch,
                   weightBytes: weights.byteCount, kvBytes: cache.byteCount)
    }

    /// KV blocks that fit in `bytes` for `layerCount` layers of `config` (keys and values in binary16).
    public static func kvBlocks(fittingBytes bytes: Int, config: LlamaConfig, layerCount: Int, blockSize: Int = 16) -> Int {
        let perBlock = 2 * KVCache.bytesPerValue * config.kvWidth * blockSize * max(1, layerCount)
        return max(0, bytes / perBlock)
    }

    public func heldTokens(_ requestID: UInt64) -> Int { cache.heldTokens(requestID) }

    public func release(_ requestID: UInt64) {
        cache.release(requestID)
        samplers[requestID] = nil
    }

    public func step(_ batch: StepBatch) throws -> StepOutput {
        let started = DispatchTime.now().uptimeNanoseconds
        let growth = try validate(batch)
        var hidden = try embed(batch)
        try cache.reserve(growth)   // all checks passed: from here on nothing throws
        var positions: [Int] = []
        positions.reserveCapacity(hidden.rows)
        for entry in batch.entries { positions += entry.position..<(entry.position + entry.tokenCount) }

        let rotary = rotaryAngles(positions)
        // Where each entry's cached positions lie at layer 0 (one more layer adds cache.layerStride).
        let rowOffsets = batch.entries.map { entry in
            cache.tables[entry.requestID].map { cache.rowOffsets(request: $0, length: entry.position + entry.tokenCount) } ?? []
        }
        for (local, layer) in weights.decoderLayers.enumerated() {
            hidden = forward(layer: layer, local: local, hidden: hidden, rotary: rotary, entries: batch.entries, rowOffsets: rowOffsets)
        }
        for entry in batch.entries { cache.setLength(entry.position + entry.tokenCount, of: entry.requestID) }

        var output = StepOutput(hidden: nil, tokens: [], logits: [:], seconds: 0)
        if isLast { sample(hidden: hidden, entries: batch.entries, into: &output) } else {
            output.hidden = HiddenStates(hidden, encoding: hiddenEncoding)
        }
        output.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        counters.steps += 1
        counters.tokens += batch.tokenCount
        counters.seconds += output.seconds
        counters.lastBatch = batch.tokenCount
        return output
    }

    /// Checks the batch against the stage and the cache; returns each request's new length.
    private func validate(_ batch: StepBatch) throws -> [UInt64: Int] {
        let growth = try batch.validateShape()
        guard batch.tokenCount <= maxBatchTokens else {
            throw WorkerError.invalidBatch("batch of \(batch.tokenCount) tokens exceeds this worker's limit of \(maxBatchTokens); split the prompt into chunks")
        }
        for entry in batch.entries {
            let cached = cache.length(of: entry.requestID)
            guard entry.position == cached else {
                throw WorkerError.invalidBatch("request \(entry.requestID): slice starts at position \(entry.position) but \(cached) tokens are cached here; positions must continue the cached sequence")
            }
            if isLast, samplers[entry.requestID] == nil { try entry.sampling.validate() }
        }
        let needed = cache.blocksNeeded(for: growth)
        guard needed <= cache.freeBlockCount else { throw WorkerError.kvCacheFull(needed: needed, free: cache.freeBlockCount) }
        return growth
    }

    /// Token ids through the embedding (first stage) or incoming hidden states (later stages).
    private func embed(_ batch: StepBatch) throws -> Tensor {
        switch batch.input {
        case .tokens(let ids):
            guard let table = weights.embedding else {
                throw WorkerError.invalidBatch("this stage holds layers [\(layers.lowerBound), \(layers.upperBound)) and takes hidden states, not token ids")
            }
            guard let rows = table.rows(ids.map(Int.init)) else {
                throw WorkerError.invalidBatch("token ids must be in [0, \(config.vocabSize))")
            }
            return rows
        case .hidden(let states):
            guard !isFirst else { throw WorkerError.invalidBatch("the first stage takes token ids, not hidden states") }
            guard states.width == hiddenSize else {
                throw WorkerError.invalidBatch("hidden states are \(states.width) wide; this model's hidden size is \(hiddenSize)")
            }
            return try states.tensor()
        }
    }

    private func forward(layer: LayerWeights, local: Int, hidden: Tensor, rotary: (cosines: [Float], sines: [Float]), entries: [BatchEntry],
                         rowOffsets: [[Int]]) -> Tensor {
        let c = config
        let tokens = hidden.rows, qWidth = c.queryWidth, kvWidth = c.kvWidth
        let normed = Self.rmsNorm(hidden, weight: layer.inputNorm, epsilon: c.rmsNormEpsilon)
        let qkv = layer.qkv.apply(normed)
        let queries = Self.rope(qkv.columns(0..<qWidth), rotary, headDim: c.headDim)
        let keys = Self.rope(qkv.columns(qWidth..<(qWidth + kvWidth)), rotary, headDim: c.headDim)
        let values = qkv.columns((qWidth + kvWidth)..<(qWidth + 2 * kvWidth))
        writeCache(keys: keys, values: values, local: local, entries: entries)

        let attention = attend(queries: queries, local: local, entries: entries, rowOffsets: rowOffsets)
        var residual = hidden + layer.output.apply(attention)
        let normed2 = Self.rmsNorm(residual, weight: layer.postNorm, epsilon: c.rmsNormEpsilon)
        let gateUp = layer.gateUp.apply(normed2)
        let inter = c.intermediateSize
        let activated = Tensor(shape: [tokens, inter]) { out in
            gateUp.scalars.withUnsafeBufferPointer { lk_swiglu($0.baseAddress, Int32(tokens), Int32(inter), out.baseAddress) }
        }
        residual = residual + layer.down.apply(activated)
        return residual
    }

    /// RoPE cosines and sines for each position (rows of headDim/2). Plain RoPE takes ggml's
    /// angles (θ multiplied up pair by pair in float); scaled RoPE, our inverse frequencies.
    private func rotaryAngles(_ positions: [Int]) -> (cosines: [Float], sines: [Float]) {
        let half = config.headDim / 2
        guard config.ropeScaling == .none else {
            let table = RotaryTable(positions: positions, inverseFrequencies: inverseFrequencies)
            return (table.cosines, table.sines)
        }
        var cosines = [Float](repeating: 0, count: positions.count * half), sines = cosines
        let thetaScale = powf(Float(config.ropeTheta), -2 / Float(config.headDim))
        positions.map { CLong($0) }.withUnsafeBufferPointer { p in
            lk_rope_angles(p.baseAddress, Int32(positions.count), Int32(half), thetaScale, &cosines, &sines)
        }
        return (cosines, sines)
    }

    /// `x` with every head rotated by its row's angles (the C kernel, ggml's arithmetic).
    static func rope(_ x: Tensor, _ angles: (cosines: [Float], sines: [Float]), headDim: Int) -> Tensor {
        var result = x
        result.scalars.withUnsafeMutableBufferPointer { p in
            lk_rope(p.baseAddress, Int32(x.rows), Int32(x.columns), Int32(headDim), angles.cosines, angles.sines)
        }
        return result
    }

    /// RMS norm in the C kernel, bit for bit as llama.cpp computes it (the next product's 8-bit
    /// rounding turns any last-bit difference into a quantization step).
    static func rmsNorm(_ x: Tensor, weight: Tensor, epsilon: Float) -> Tensor {
        Tensor(shape: x.shape) { out in
            x.scalars.withUnsafeBufferPointer { px in
                weight.scalars.withUnsafeBufferPointer { pw in
                    lk_rms_norm(px.baseAddress, pw.baseAddress, Int32(x.rows), Int32(x.columns), epsilon, out.baseAddress)
                }
            }
        }
    }

    /// Stores this batch's keys and values in the request's cache slots, one row per token,
    /// converted to binary16 as llama.cpp's default (F16) KV cache holds them.
    private func writeCache(keys: Tensor, values: Tensor, local: Int, entries: [BatchEntry]) {
        let kvWidth = config.kvWidth
        var row = 0
        keys.scalars.withUnsafeBufferPointer { k in
            values.scalars.withUnsafeBufferPointer { v in
                cache.keys.withUnsafeMutableBufferPointer { ck in
                    cache.values.withUnsafeMutableBufferPointer { cv in
                        for entry in entries {
                            guard let table = cache.tables[entry.requestID] else { continue }
                            for i in 0..<entry.tokenCount {
                                let offset = cache.offset(request: table, layer: local, position: entry.position + i)
                                lk_f32_to_f16_many(k.baseAddress! + (row + i) * kvWidth, ck.baseAddress! + offset, kvWidth)
                                lk_f32_to_f16_many(v.baseAddress! + (row + i) * kvWidth, cv.baseAddress! + offset, kvWidth)
                            }
                            row += entry.tokenCount
                        }
                    }
                }
            }
        }
    }

    /// Causal grouped-query attention of each entry's queries over its cached keys and values.
    /// Up to `rowByRowQueries` query rows go one by one through the C kernel with llama.cpp's
    /// flash-attention numerics; more go through BLAS.
    private func attend(queries: Tensor, local: Int, entries: [BatchEntry], rowOffsets: [[Int]]) -> Tensor {
        let c = config
        let qWidth = c.queryWidth, kvWidth = c.kvWidth, headDim = c.headDim
        let group = c.headCount / c.kvHeadCount
        let scale = 1 / Float(headDim).squareRoot()
        var output = Tensor(shape: [queries.rows, qWidth])
        var row = 0
        for (index, entry) in entries.enumerated() {
            guard let table = cache.tables[entry.requestID] else { continue }
            let length = entry.position + entry.tokenCount, n = entry.tokenCount
            if n <= Self.rowByRowQueries {
                for i in 0..<n {
                    attendOne(queryRow: row + i, queries: queries, rows: rowOffsets[index], local: local, length: entry.position + i + 1,
                              output: &output)
                }
                row += n
                continue
            }
            // Gather this request's keys and values into contiguous [length, kvWidth] buffers.
            var keys = [Float](repeating: 0, count: length * kvWidth)
            var values = [Float](repeating: 0, count: length * kvWidth)
            keys.withUnsafeMutableBufferPointer { k in
                values.withUnsafeMutableBufferPointer { v in
                    cache.keys.withUnsafeBufferPointer { ck in
                        cache.values.withUnsafeBufferPointer { cv in
                            var p = 0
                            while p < length {
                                let run = min(cache.blockSize - p % cache.blockSize, length - p)
                                let offset = cache.offset(request: table, layer: local, position: p)
                                lk_f16_to_f32_many(ck.baseAddress! + offset, k.baseAddress! + p * kvWidth, run * kvWidth)
                                lk_f16_to_f32_many(cv.baseAddress! + offset, v.baseAddress! + p * kvWidth, run * kvWidth)
                                p += run
                            }
                        }
                    }
                }
            }
            // Queries in tiles, so the score matrix stays small and each tile reads only the
            // keys it can see (causal: up to its last position).
            let tile = Self.queryTile
            var scores = [Float](repeating: 0, count: min(tile, n) * length)
            queries.scalars.withUnsafeBufferPointer { q in
                output.scalars.withUnsafeMutableBufferPointer { out in
                    keys.withUnsafeBufferPointer { k in
                        values.withUnsafeBufferPointer { v in
                            scores.withUnsafeMutableBufferPointer { s in
                                var first = 0
                                while first < n {
                                    let rows = min(tile, n - first)
                                    let visibleEnd = entry.position + first + rows   // keys this tile can see
                                    for head in 0..<c.headCount {
                                        let kvHead = head / group
                                        let qBase = q.baseAddress! + (row + first) * qWidth + head * headDim
                                        Tensor.gemm(m: rows, n: visibleEnd, k: headDim, a: qBase, lda: qWidth, transposeA: false,
                                                    b: k.baseAddress! + kvHead * headDim, ldb: kvWidth, transposeB: true,
                                                    c: s.baseAddress, ldc: visibleEnd, beta: 0)
                                        for i in 0..<rows {
                                            let visible = entry.position + first + i + 1   // causal: positions ≤ own
                                            let rowScores = UnsafeMutableBufferPointer(rebasing: s[(i * visibleEnd)..<(i * visibleEnd + visible)])
                                            for j in 0..<visible { rowScores[j] *= scale }
                                            Tensor.softmaxInPlace(rowScores)
                                            for j in visible..<visibleEnd { s[i * visibleEnd + j] = 0 }
                                        }
                                        Tensor.gemm(m: rows, n: headDim, k: visibleEnd, a: s.baseAddress, lda: visibleEnd, transposeA: false,
                                                    b: v.baseAddress! + kvHead * headDim, ldb: kvWidth, transposeB: false,
                                                    c: out.baseAddress! + (row + first) * qWidth + head * headDim, ldc: qWidth, beta: 0)
                                    }
                                    first += rows
                                }
                            }
                        }
                    }
                }
            }
            row += n
        }
        return output
    }

    /// One query straight over the cache blocks, without gathering them: one C call for all
    /// heads, given where each position's row lies in the paged cache (`rows`, at layer 0).
    private func attendOne(queryRow: Int, queries: Tensor, rows: [Int], local: Int, length: Int, output: inout Tensor) {
        let c = config
        let qWidth = c.queryWidth, headDim = c.headDim
        let base = local * cache.layerStride
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * headDim) { scratch in
            queries.scalars.withUnsafeBufferPointer { q in
                cache.keys.withUnsafeBufferPointer { ck in
                    cache.values.withUnsafeBufferPointer { cv in
                        output.scalars.withUnsafeMutableBufferPointer { out in
                            rows.withUnsafeBufferPointer { r in
                                r.withMemoryRebound(to: CLong.self) { offsets in
                                    lk_attend_one(q.baseAddress! + queryRow * qWidth, ck.baseAddress, cv.baseAddress, offsets.baseAddress,
                                                  base, Int32(length), Int32(c.headCount), Int32(c.headCount / c.kvHeadCount),
                                                  Int32(headDim), 1 / Float(headDim).squareRoot(), scratch.baseAddress,
                                                  out.baseAddress! + queryRow * qWidth)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Final norm and LM head on the last row of each entry that wants a token, then sampling.
    private func sample(hidden: Tensor, entries: [BatchEntry], into output: inout StepOutput) {
        var lastRows: [Int] = [], wanting: [BatchEntry] = []
        var row = 0
        for entry in entries {
            row += entry.tokenCount
            if entry.wantsToken { lastRows.append(row - 1); wanting.append(entry) }
            if samplers[entry.requestID] == nil { samplers[entry.requestID] = RequestSampler(entry.sampling) }
        }
        guard !wanting.isEmpty, let norm = weights.finalNorm, let head = weights.lmHead,
              let picked = Tensor.gather(hidden, rows: lastRows) else { return }
        let logits = head.apply(Self.rmsNorm(picked, weight: norm, epsilon: config.rmsNormEpsilon))
        let vocab = config.vocabSize
        logits.scalars.withUnsafeBufferPointer { all in
            for (i, entry) in wanting.enumerated() {
                let rowLogits = UnsafeBufferPointer(rebasing: all[(i * vocab)..<((i + 1) * vocab)])
                let token = samplers[entry.requestID]?.sample(rowLogits) ?? RequestSampler.argmax(rowLogits)
                output.tokens.append(SampledToken(requestID: entry.requestID, token: Int32(token), position: entry.position + entry.tokenCount))
                if returnsLogits { output.logits[entry.requestID] = Array(rowLogits) }
            }
        }
    }
}
