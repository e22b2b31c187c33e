/// A paged KV cache: fixed-size blocks of `blockSize` token slots, each holding keys and values of
/// every layer a stage holds, in binary16 (llama.cpp's default F16 cache: the same values, half
/// the bytes of Float32). Requests grow block by block; capacity is reported in
/// token×layer entries, the unit the scheduler and placement plan with.
public final class KVCache {
    public let blockSize: Int
    public let blockCount: Int
    public let layerCount: Int
    public let kvWidth: Int
    var keys: [UInt16]    // binary16 bits
    var values: [UInt16]
    private var freeBlocks: [Int]
    private(set) var tables: [UInt64: RequestBlocks] = [:]

    struct RequestBlocks {
        var blocks: [Int] = []
        var length = 0   // tokens written
    }

    /// - Parameter storesData: false for bookkeeping only (the emulated backend), no key/value memory.
    public init(blockSize: Int, blockCount: Int, layerCount: Int, kvWidth: Int, storesData: Bool = true) throws {
        guard blockSize > 0, blockCount > 0, layerCount > 0, kvWidth > 0 else {
            throw WorkerError.invalidArgument("KV cache needs a positive block size and block count (got \(blockSize) and \(blockCount))")
        }
        self.blockSize = blockSize
        self.blockCount = blockCount
        self.layerCount = layerCount
        self.kvWidth = kvWidth
        let (slots, o1) = blockCount.multipliedReportingOverflow(by: blockSize * layerCount)
        let (floats0, o2) = slots.multipliedReportingOverflow(by: kvWidth)
        guard !o1, !o2, floats0 <= 1 << 40 else {
            throw WorkerError.invalidArgument("KV cache of \(blockCount) blocks × \(blockSize) tokens × \(layerCount) layers is too large")
        }
        let floats = storesData ? floats0 : 0
        keys = [UInt16](repeating: 0, count: floats)
        values = [UInt16](repeating: 0, count: floats)
        freeBlocks = Array((0..<blockCount).reversed())
    }

    /// Bytes one stored value takes.
    public static let bytesPerValue = MemoryLayout<UInt16>.size

    /// Bytes of keys and values held (all blocks).
    public var byteCount: Int { (keys.count + values.count) * Self.bytesPerValue }

    /// Total room, in token×layer entries.
    public var capacityEntries: Int { blockCount * blockSize * layerCount }
    /// Entries held by requests (whole blocks, since a block is reserved at once).
    public var usedEntries: Int { (blockCount - freeBlocks.count) * blockSize * layerCount }
    public var freeBlockCount: Int { freeBlocks.count }
    public var requestCount: Int { tables.count }
    /// Tokens this cache can still take for one new request.
    public var freeTokens: Int { freeBlocks.count * blockSize }

    /// Tokens already cached for `request` (0 for an unknown one).
    public func length(of request: UInt64) -> Int { tables[request]?.length ?? 0 }

    /// Blocks needed so that each request in `growth` (request → new total length) fits.
    func blocksNeeded(for growth: [UInt64: Int]) -> Int {
        growth.reduce(0) { sum, item in
            let have = tables[item.key]?.blocks.count ?? 0
            return sum + max(0, (item.value + blockSize - 1) / blockSize - have)
        }
    }

    /// Reserves blocks so each request reaches its new length; all or nothing.
    func reserve(_ growth: [UInt64: Int]) throws {
        let needed = blocksNeeded(for: growth)
        guard needed <= freeBlocks.count else { throw WorkerError.kvCacheFull(needed: needed, free: freeBlocks.count) }
        for (request, length) in growth {
            var table = tables[request] ?? RequestBlocks()
            while table.blocks.count * blockSize < length { table.blocks.append(freeBlocks.removeLast()) }
            tables[request] = table
        }
    }

    func setLength(_ length: Int, of request: UInt64) { tables[request]?.length = length }

    /// Offset (in values) of the slot for `position` of `request` at local layer `layer`.
    @inline(__always)
    func offset(request table: RequestBlocks, layer: Int, position: Int) -> Int {
        let block = table.blocks[position / blockSize]
        return ((block * layerCount + layer) * blockSize + position % blockSize) * kvWidth
    }

    /// Values between one layer's slot for a position and the next layer's.
    var layerStride: Int { blockSize * kvWidth }

    /// Offsets of positions [0, length) of `request` at local layer 0 (add `layer · layerStride`).
    func rowOffsets(request table: RequestBlocks, length: Int) -> [Int] {
        (0..<length).map { offset(request: table, layer: 0, position: $0) }
    }

    /// Frees a request's blocks. Unknown ids are ignored (release is idempotent).
    public func release(_ request: UInt64) {
        guard let table = tables.removeValue(forKey: request) else { return }
        freeBlocks.append(contentsOf: table.blocks.reversed())
    }
}
