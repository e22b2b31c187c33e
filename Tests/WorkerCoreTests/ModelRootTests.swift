import Foundation
import Testing
import WorkerCore

/// A worker loads a model_dir a peer names only from inside its model root (issue 12).
@Suite struct ModelRootTests {
    @Test func onlyFoldersInsideTheRootAreAllowed() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("lattice-root-\(UUID().uuidString)").path
        let root = "\(base)/models", inside = "\(root)/tiny", outside = "\(base)/elsewhere"
        for folder in [inside, outside] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        try FileManager.default.createSymbolicLink(atPath: "\(root)/escape", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: "\(root)/alias", withDestinationPath: inside)
        defer { try? FileManager.default.removeItem(atPath: base) }

        let modelRoot = try ModelRoot(root)
        #expect(try modelRoot.check(inside).hasSuffix("/models/tiny"))
        #expect(try modelRoot.check("tiny").hasSuffix("/models/tiny"))          // relative to the root
        #expect(try modelRoot.check("\(root)/alias").hasSuffix("/models/tiny")) // a symlink that stays inside
        for refused in [outside, "\(root)/../elsewhere", "../elsewhere", "\(root)/escape", "/etc", "\(root)/missing", "\(base)/models-evil"] {
            #expect(throws: WorkerError.self, "\(refused)") { try modelRoot.check(refused) }
        }
        #expect(throws: WorkerError.self) { try ModelRoot("\(base)/no-such-root") }
    }
}
