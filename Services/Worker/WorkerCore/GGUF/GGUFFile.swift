import Foundation

/// A metadata value of a GGUF file.
public enum GGUFValue: Sendable, Equatable {
    case unsigned(UInt64)
    case signed(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    public var int: Int? {
        switch self {
        case .unsigned(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .signed(let v): return Int(v)
        default: return nil
        }
    }
    public var double: Double? {
        switch self {
        case .float(let v): return v
        case .unsigned, .signed: return int.map(Double.init)
        default: return nil
        }
    }
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var array: [GGUFValue]? { if case .array(let a) = self { return a } else { return nil } }
}

/// One tensor's entry in a GGUF header. `dimensions` are GGUF's order: innermost (row length) first.
public struct GGUFTensorInfo: Sendable {
    public var name: String
    public var dimensions: [Int]
    public var type: GGMLType
    public var bytes: Range<Int>   // absolute offsets in the file

    public var elementCount: Int { dimensions.reduce(1, *) }
    /// The shape outermost first, as the rest of the worker writes shapes.
    public var shape: [Int] { dimensions.reversed() }
}

/// A GGUF file (versions 2 and 3), memory-mapped: header, metadata and tensor infos are parsed
/// and checked up front; tensor bytes are read on request.
///
/// Layout: magic "GGUF", version, tensor count, metadata count, the metadata key/values, the
/// tensor infos, padding to `general.alignment`, then the tensor data (offsets relative to it).
public final class GGUFFile {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    public let tensors: [String: GGUFTensorInfo]
    /// Tensor names in file order.
    public let tensorOrder: [String]
    private let file: MappedFile

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        var reader = GGUFReader(file: file, path: path)
        let magic = try reader.bytes(4, what: "the magic")
        guard magic == Array("GGUF".utf8) else {
            throw WorkerError.badModel("\(path) is not a GGUF file (it does not start with 'GGUF')")
        }
        version = try reader.u32("the version")
        guard version == 2 || version == 3 else {
            throw WorkerError.badModel("\(path): GGUF version \(version) is not supported (only 2 and 3); re-convert it with a current llama.cpp")
        }
        let tensorCount = try reader.count("the tensor count")
        let metadataCount = try reader.count("the metadata count")
        var metadata: [String: GGUFValue] = [:]
        for index in 0..<metadataCount {
            let key = try reader.string("the key of metadata entry \(index)")
            metadata[key] = try reader.value(type: reader.u32("the type of '\(key)'"), key: key, depth: 0)
        }
        let alignment = metadata["general.alignment"]?.int ?? 32
        guard alignment > 0, alignment <= 1 << 20, alignment & (alignment - 1) == 0 else {
            throw WorkerError.badModel("\(path): general.alignment \(alignment) is not a power of two up to 1 MiB")
        }
        var infos: [(name: String, dims: [Int], type: GGMLType, offset: Int)] = []
        for index in 0..<tensorCount {
            let name = try reader.string("the name of tensor \(index)")
            let rank = Int(try reader.u32("the rank of tensor '\(name)'"))
            guard rank >= 1, rank <= 4 else { throw WorkerError.badModel("\(path): tensor '\(name)' has rank \(rank); GGUF allows 1 to 4") }
            var dims: [Int] = []
            for _ in 0..<rank {
                let d = try reader.u64("a dimension of tensor '\(name)'")
                guard d <= UInt64(Int32.max) else { throw WorkerError.badModel("\(path): tensor '\(name)' has dimension \(d), too large") }
                dims.append(Int(d))
            }
            let rawType = try reader.u32("the type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw WorkerError.badModel("\(path): tensor '\(name)' has ggml type \(rawType), which is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1); re-quantize the model to one of them")
            }
            let offset = try reader.u64("the data offset of tensor '\(name)'")
            guard offset <= UInt64(Int.max / 2) else { throw WorkerError.badModel("\(path): tensor '\(name)' has offset \(offset), beyond any file") }
            infos.append((name, dims, type, Int(offset)))
        }
        let dataStart = (reader.position + alignment - 1) / alignment * alignment
        var tensors: [String: GGUFTensorInfo] = [:]
        let fileSize = file.size
        for info in infos {
            // Each element takes at least half a byte, so more than twice the file's bytes is corrupt
            // (and would overflow the byte arithmetic below).
            let elements = try info.dims.reduce(1) { product, dimension in
                let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
                guard !overflow, next <= 2 * fileSize else {
                    throw WorkerError.badModel("\(path): tensor '\(info.name)' has dimensions \(info.dims), more elements than the file's \(fileSize) bytes could hold")
                }
                return next
            }
            guard info.dims[0] % info.type.blockSize == 0 else {
                throw WorkerError.badModel("\(path): tensor '\(info.name)' has rows of \(info.dims[0]) elements, not a multiple of \(info.type)'s block of \(info.type.blockSize)")
            }
            guard info.offset % alignment == 0 else {
                throw WorkerError.badModel("\(path): tensor '\(info.name)' starts at offset \(info.offset), not a multiple of the alignment \(alignment)")
            }
            let begin = dataStart + info.offset, end = begin + info.type.byteCount(elements: elements)
            guard end <= file.size else {
                throw WorkerError.badModel("\(path): tensor '\(info.name)' needs bytes [\(begin), \(end)) but the file has \(file.size) bytes (truncated?)")
            }
            guard tensors[info.name] == nil else { throw WorkerError.badModel("\(path): tensor '\(info.name)' is listed twice") }
            tensors[info.name] = GGUFTensorInfo(name: info.name, dimensions: info.dims, type: info.type, bytes: begin..<end)
        }
        self.metadata = metadata
        self.tensors = tensors
        tensorOrder = infos.map(\.name)
    }

    /// Calls `body` with the raw bytes of tensor `info`.
    public func withBytes<R>(of info: GGUFTensorInfo, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try file.withBytes(info.bytes, body)
    }

    /// Drops a tensor's pages from memory once its bytes were copied (they stay readable).
    func release(_ info: GGUFTensorInfo) { file.release(info.bytes) }
}

/// A bounds-checked cursor over the header; every read names what it was reading when it fails.
private struct GGUFReader {
    let file: MappedFile
    let path: String
    var position = 0

    init(file: MappedFile, path: String) {
        self.file = file
        self.path = path
    }

    mutating func bytes(_ count: Int, what: String) throws -> [UInt8] {
        guard count >= 0, count <= file.size - position else {
            throw WorkerError.badModel("\(path): file ends at byte \(file.size) while reading \(what) (truncated or corrupt GGUF)")
        }
        let result = file.withBytes(position..<(position + count)) { Array($0) }
        position += count
        return result
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        let raw = try bytes(MemoryLayout<T>.size, what: what)
        return raw.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
    }

    mutating func u32(_ what: String) throws -> UInt32 { try integer(UInt32.self, what) }
    mutating func u64(_ what: String) throws -> UInt64 { try integer(UInt64.self, what) }

    /// A count that must fit in what is left of the file (each counted item takes at least a byte).
    mutating func count(_ what: String) throws -> Int {
        let value = try u64(what)
        guard value <= UInt64(file.size - position) else {
            throw WorkerError.badModel("\(path): \(what) is \(value), more than the file could hold (corrupt GGUF)")
        }
        return Int(value)
    }

    mutating func string(_ what: String) throws -> String {
        let length = try count("the length of \(what)")
        let raw = try bytes(length, what: what)
        guard let text = String(validating: raw, as: UTF8.self) else { throw WorkerError.badModel("\(path): \(what) is not valid UTF-8") }
        return text
    }

    mutating func value(type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        let what = "the value of '\(key)'"
        switch type {
        case 0: return .unsigned(UInt64(try integer(UInt8.self, what)))
        case 1: return .signed(Int64(try integer(Int8.self, what)))
        case 2: return .unsigned(UInt64(try integer(UInt16.self, what)))
        case 3: return .signed(Int64(try integer(Int16.self, what)))
        case 4: return .unsigned(UInt64(try u32(what)))
        case 5: return .signed(Int64(try integer(Int32.self, what)))
        case 6: return .float(Double(Float(bitPattern: try u32(what))))
        case 7:
            let byte = try integer(UInt8.self, what)
            guard byte <= 1 else { throw WorkerError.badModel("\(path): '\(key)' is a bool stored as \(byte)") }
            return .bool(byte == 1)
        case 8: return .string(try string(what))
        case 9:
            guard depth == 0 else { throw WorkerError.badModel("\(path): '\(key)' nests arrays, which GGUF models do not use") }
            let itemType = try u32("the item type of '\(key)'")
            let n = try count("the length of '\(key)'")
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(type: itemType, key: key, depth: depth + 1)) }
            return .array(items)
        case 10: return .unsigned(try u64(what))
        case 11: return .signed(Int64(bitPattern: try u64(what)))
        case 12: return .float(Double(bitPattern: try u64(what)))
        default: throw WorkerError.badModel("\(path): '\(key)' has value type \(type), which GGUF does not define (corrupt file)")
        }
    }
}
