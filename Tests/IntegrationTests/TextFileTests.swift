import Client
import Foundation
import Testing

@Suite struct TextFileTests {
    @Test func readsTextEmptyFilesMissingFilesAndProcFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("textfile-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(FileManager.default.createFile(atPath: "\(directory)/empty", contents: nil))
        #expect(FileManager.default.createFile(atPath: "\(directory)/text", contents: Data("listening 127.0.0.1:1\n".utf8)))
        #expect(TextFile.read("\(directory)/empty") == "")
        #expect(TextFile.read("\(directory)/text") == "listening 127.0.0.1:1\n")
        #expect(TextFile.read("\(directory)/missing") == nil)
        // /proc files report size 0 but are not empty.
        #expect(TextFile.read("/proc/self/stat")?.hasPrefix("\(getpid()) ") == true)
    }

    /// A service's stdout is polled every 20 ms until it listens. Foundation's reads leak 4 KiB
    /// per read of an empty file (5000 polls: 20 MiB); these must not grow memory.
    @Test func pollingAnEmptyFileDoesNotGrowMemory() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("textfile-poll-\(getpid())").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let before = try #require(residentBytes())
        var misread = 0
        for _ in 0..<5000 where TextFile.read(path) != "" { misread += 1 }
        #expect(misread == 0)
        let grown = try #require(residentBytes()) - before
        #expect(grown < 8 << 20, "resident memory grew \(grown >> 10) KiB over 5000 reads of an empty file")
    }

    private func residentBytes() -> Int? {
        guard let pages = TextFile.read("/proc/self/statm")?.split(separator: " ").dropFirst().first else { return nil }
        return Int(pages).map { $0 * Int(sysconf(Int32(_SC_PAGESIZE))) }
    }
}
