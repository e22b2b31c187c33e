import Foundation

/// Whole-file reads for files that are polled while still empty (a service's stdout before it
/// listens, its log). Foundation's `String(contentsOfFile:)` (and `Data(contentsOf:)`,
/// `FileManager.contents(atPath:)`) leaks a 4 KiB buffer on every read of an empty file, found by
/// LeakSanitizer: polling a slow service's stdout every 20 ms leaked megabytes. So: plain read(2).
public enum TextFile {
    /// The file's text (invalid UTF-8 replaced), "" when it is empty, nil when it cannot be read.
    public static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        // 1 KiB: small enough to be on the stack always, so polling an empty file allocates nothing.
        let complete = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { chunk -> Bool in
            while true {
                let count = Foundation.read(descriptor, chunk.baseAddress, chunk.count)
                if count == 0 { return true }
                if count < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                bytes.append(contentsOf: chunk[..<count])
            }
        }
        return complete ? String(decoding: bytes, as: UTF8.self) : nil
    }
}
