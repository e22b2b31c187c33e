import CProtobufC
import Foundation
import Synchronization

/// protobuf-c copies every `bytes` field out of the buffer it unpacks. For large fields (a
/// hidden state) the allocator here makes that copy land in a Swift array's own storage, and
/// `bytesField` hands the array out as it is: the field is copied once, from the frame to the
/// handler's message, instead of once into protobuf-c's memory and again into an array.
final class AdoptingAllocator {
    /// Fields this large are adopted; smaller ones go through malloc as protobuf-c does.
    static let minimumBytes = 16 << 10

    private var adopted: [UnsafeMutableRawPointer: [UInt8]] = [:]

    /// A protobuf-c allocator backed by this object (alive for the duration of one unpack).
    func withAllocator<R>(_ body: (UnsafeMutablePointer<ProtobufCAllocator>) throws -> R) rethrows -> R {
        var allocator = ProtobufCAllocator(alloc: adoptingAlloc, free: adoptingFree,
                                           allocator_data: Unmanaged.passUnretained(self).toOpaque())
        let previous = pthread_getspecific(adoptionKey)
        pthread_setspecific(adoptionKey, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(adoptionKey, previous) }
        return try withExtendedLifetime(self) { try body(&allocator) }
    }

    fileprivate func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        guard size >= Self.minimumBytes else { return malloc(size) }
        let array = [UInt8](unsafeUninitializedCapacity: size) { _, count in count = size }
        // [UInt8] storage is native and contiguous, and nothing mutates this array while it is
        // lent out; protobuf-c writes the field into it once, then only reads.
        guard let base = array.withUnsafeBufferPointer({ $0.baseAddress }) else { return nil }
        let pointer = UnsafeMutableRawPointer(mutating: base)
        adopted[pointer] = array
        PayloadCopies.add(size)   // protobuf-c's copy of the field
        return pointer
    }

    fileprivate func free(_ pointer: UnsafeMutableRawPointer?) {
        guard let pointer else { return }
        if adopted.removeValue(forKey: pointer) == nil { Foundation.free(pointer) }
    }

    /// The array protobuf-c filled at `pointer`, if this unpack adopted it.
    fileprivate func array(at pointer: UnsafeMutableRawPointer, count: Int) -> [UInt8]? {
        guard let array = adopted[pointer], array.count == count else { return nil }
        return array
    }

    /// The adopted array behind a bytes field being read on this thread inside an unpack.
    static func adoptedArray(_ data: ProtobufCBinaryData) -> [UInt8]? {
        guard data.len >= minimumBytes, let base = data.data, let current = pthread_getspecific(adoptionKey) else { return nil }
        return Unmanaged<AdoptingAllocator>.fromOpaque(current).takeUnretainedValue().array(at: UnsafeMutableRawPointer(base), count: data.len)
    }
}

/// The unpack running on this thread (its `init(c:)` readers run synchronously inside it).
private let adoptionKey: pthread_key_t = {
    var key = pthread_key_t()
    precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key left for protobuf-c unpacking")
    return key
}()

private func adoptingAlloc(_ data: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    guard let data else { return malloc(size) }
    return Unmanaged<AdoptingAllocator>.fromOpaque(data).takeUnretainedValue().allocate(size)
}

private func adoptingFree(_ data: UnsafeMutableRawPointer?, _ pointer: UnsafeMutableRawPointer?) {
    guard let data else { Foundation.free(pointer); return }
    Unmanaged<AdoptingAllocator>.fromOpaque(data).takeUnretainedValue().free(pointer)
}

/// Bytes of large payloads (at least `AdoptingAllocator.minimumBytes` at a time, or a frame's
/// partial reads) copied in user space by the wire and transport code, process-wide: what the
/// copy tests count. Kernel copies (send, recv) are not counted.
public enum PayloadCopies {
    private static let counter = Atomic<Int>(0)

    public static var bytes: Int { counter.load(ordering: .relaxed) }

    public static func add(_ count: Int) {
        counter.add(count, ordering: .relaxed)
    }
}
