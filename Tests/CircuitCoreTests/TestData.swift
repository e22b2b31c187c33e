import Foundation
@testable import CircuitCore

/// Paths to the shared benchmark circuits (the package root is three levels above this file).
enum TestData {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `shared/` beside the package root, or beside one of its parents (worktrees live one level deeper).
    static let namDirectory: URL = {
        var dir = packageRoot
        for _ in 0..<4 {
            dir = dir.deletingLastPathComponent()
            let candidate = dir.appendingPathComponent("shared/data/circuits/nam")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/circuits/nam")
    }()

    static func namSource(_ name: String) throws -> String {
        try String(contentsOf: namDirectory.appendingPathComponent(name + ".qasm"), encoding: .utf8)
    }

    static func nam(_ name: String) throws -> Circuit {
        try QASMParser.parse(namSource(name))
    }
}
