import Foundation
import Tensor

/// Element types of a safetensors file that we read.
public enum SafeTensorsDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"
    var byteWidth: Int { self == .f32 ? 4 : 2 }
}

/// One safetensors file, memory-mapped; tensors are converted to Float32 when asked for.
///
/// Layout: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
/// shape and byte range, then the raw little-endian data.
final class SafeTensorsFile {
    struct Entry {
        var dtype: SafeTensorsDType
        var shape: [Int]
        var bytes: Range<Int>   // absolute offsets in the file
    }

    let path: String
    let entries: [String: Entry]
    private let file: MappedFile

    init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        guard file.size >= 8 else { throw WorkerError.badModel("\(path): too short to be a safetensors file") }
        let headerLength = file.withBytes(0..<8) { raw in
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(raw[$1]) << (8 * UInt64($1)) }
        }
        guard headerLength <= UInt64(file.size - 8) else {
            throw WorkerError.badModel("\(path): header length \(headerLength) exceeds the file size \(file.size)")
        }
        let dataStart = 8 + Int(headerLength)
        let header = file.withBytes(8..<dataStart) { Data($0) }
        guard let object = try? JSONSerialization.jsonObject(with: header), let json = object as? [String: Any] else {
            throw WorkerError.badModel("\(path): header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        for (name, value) in json where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shape = (info["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (info["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2 else {
                throw WorkerError.badModel("\(path): tensor '\(name)' has a malformed header entry")
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw WorkerError.badModel("\(path): tensor '\(name)' has dtype \(dtypeName); only F32, F16 and BF16 are supported")
            }
            let begin = dataStart + offsets[0], end = dataStart + offsets[1]
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, begin <= end, end <= file.size,
                  end - begin == shape.reduce(1, *) * dtype.byteWidth else {
                throw WorkerError.badModel("\(path): tensor '\(name)' byte range \(offsets) does not match shape \(shape) of \(dtypeName) or the file size")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, bytes: begin..<end)
        }
        self.entries = entries
    }

    /// The named tensor converted to Float32.
    func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw WorkerError.badModel("\(path): no tensor named '\(name)'") }
        let count = entry.shape.reduce(1, *)
        return file.withBytes(entry.bytes) { raw in
            Tensor(shape: entry.shape) { out in
                switch entry.dtype {
                case .f32:
                    _ = out.withMemoryRebound(to: UInt8.self) { raw.copyBytes(to: $0) }
                case .f16:
                    for i in 0..<count { out[i] = HalfPrecision.float(fromFloat16Bits: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) }
                case .bf16:
                    for i in 0..<count { out[i] = HalfPrecision.float(fromBFloat16Bits: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) }
                }
            }
        }
    }

    /// Writes `tensors` (in the given order) as one safetensors file in `dtype`.
    static func write(_ tensors: [(name: String, tensor: Tensor)], dtype: SafeTensorsDType, to path: String) throws {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var offset = 0
        for (name, tensor) in tensors {
            let size = tensor.count * dtype.byteWidth
            header[name] = ["dtype": dtype.rawValue, "shape": tensor.shape, "data_offsets": [offset, offset + size]]
            offset += size
        }
        var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        while (headerBytes.count + 8) % 8 != 0 { headerBytes.append(0x20) }
        var out = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        for (_, tensor) in tensors {
            switch dtype {
            case .f32:
                tensor.scalars.withUnsafeBytes { out.append(contentsOf: $0) }
            case .f16:
                let bits = tensor.scalars.map { HalfPrecision.float16Bits(from: $0).littleEndian }
                bits.withUnsafeBytes { out.append(contentsOf: $0) }
            case .bf16:
                let bits = tensor.scalars.map { HalfPrecision.bfloat16Bits(from: $0).littleEndian }
                bits.withUnsafeBytes { out.append(contentsOf: $0) }
            }
        }
        do { try out.write(to: URL(fileURLWithPath: path)) } catch {
            throw WorkerError.badModel("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
