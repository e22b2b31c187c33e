import Foundation
import Testing

/// The repository this test file sits in.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion in the repository root, capturing its output through temp files
/// (pipes could fill up and stall a chatty child).
func runProcess(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("wire-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let out = scratch.appendingPathComponent("stdout"), err = scratch.appendingPathComponent("stderr")
    try Data().write(to: out)
    try Data().write(to: err)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
    process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
    process.currentDirectoryURL = repositoryRoot
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    try process.run()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

/// Whether a program is on PATH.
func toolAvailable(_ name: String) -> Bool {
    (try? runProcess("sh", ["-c", "command -v \(name)"]).status) == 0
}

/// A Python that imports google.protobuf (clients/python/ensure-python installs one if needed).
/// Skips the calling test only when none exists and pip could not install one.
func pythonWithProtobuf() throws -> String {
    let found = try runProcess(repositoryRoot.appendingPathComponent("clients/python/ensure-python").path, [])
    guard found.status == 0 else {
        try Test.cancel("skipped: no Python with protobuf and pip could not install one: \(found.stderr)")
    }
    return found.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

extension Array where Element == UInt8 {
    var hex: String { map { String(format: "%02x", $0) }.joined() }

    init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        self = bytes
    }
}
