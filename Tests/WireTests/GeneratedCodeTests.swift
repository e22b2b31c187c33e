import Foundation
import Testing

/// Shared/WireC, the generated Shared/Wire/<Service>.swift and Shared/Transport/EnvelopeWire.swift
/// must be what scripts/gen-proto makes from proto/ today: regenerate into a temp dir and compare file by file.
@Suite struct GeneratedCodeTests {
    @Test(.enabled(if: toolAvailable("protoc-c"), "protoc-c is not installed (apt-get install protobuf-c-compiler): cannot check Shared/WireC"))
    func committedOutputIsFresh() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("gen-proto-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        _ = try pythonWithProtobuf()  // gen-proto's Swift step reads the descriptors with it
        let run = try runProcess(repositoryRoot.appendingPathComponent("scripts/gen-proto").path, [scratch.path])
        try #require(run.status == 0, "scripts/gen-proto failed: \(run.stderr)")

        let fresh = try generatedFiles(under: scratch)
        let committed = try generatedFiles(under: repositoryRoot)
        #expect(Set(fresh.keys) == Set(committed.keys),
                "generated files differ: run scripts/gen-proto and commit (fresh \(fresh.keys.sorted()), committed \(committed.keys.sorted()))")
        for (path, contents) in fresh.sorted(by: { $0.key < $1.key }) where committed[path] != nil {
            #expect(committed[path] == contents, "\(path) is stale: run scripts/gen-proto and commit the result")
        }
    }

    /// A field added to Envelope in common.proto reaches the Swift type (a property and an init
    /// argument) and the transport's codec (sized, written, decoded) with no hand edit.
    @Test(.enabled(if: toolAvailable("protoc"), "protoc is not installed (apt-get install protobuf-compiler)"))
    func aFieldAddedToEnvelopeIsGenerated() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("gen-envelope-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let python = try pythonWithProtobuf()
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("proto"), to: scratch.appendingPathComponent("proto"))
        let common = scratch.appendingPathComponent("proto/lattice/v1/common.proto")
        let text = try String(contentsOf: common, encoding: .utf8)
        let last = "  uint32 window = 9;\n"
        try #require(text.contains(last), "common.proto's Envelope no longer ends with its window field: update this test")
        try text.replacingOccurrences(of: last, with: last + "  string trace_id = 10;   // added by the test\n")
            .write(to: common, atomically: true, encoding: .utf8)
        let descriptors = scratch.appendingPathComponent("lattice.desc").path
        let protoc = try runProcess("protoc", ["--proto_path=\(scratch.path)/proto", "--include_imports", "--include_source_info",
                                               "--descriptor_set_out=\(descriptors)", common.path])
        try #require(protoc.status == 0, "protoc failed: \(protoc.stderr)")
        let codec = scratch.appendingPathComponent("EnvelopeWire.swift"), types = scratch.appendingPathComponent("EnvelopeTypes.swift")
        let run = try runProcess(python, ["scripts/gen-proto-envelope.py", descriptors, codec.path, types.path])
        try #require(run.status == 0, "gen-proto-envelope.py failed: \(run.stderr)")

        let swiftTypes = try String(contentsOf: types, encoding: .utf8)
        #expect(swiftTypes.contains("    /// added by the test\n    public var traceID: String\n"))
        #expect(swiftTypes.contains("kind: Kind = .request, window: UInt32 = 0, traceID: String = \"\") {"))
        let swiftCodec = try String(contentsOf: codec, encoding: .utf8)
        #expect(swiftCodec.contains("let traceIDUTF8 = ProtobufWriter.cString(value.traceID)"))
        #expect(swiftCodec.contains("if !traceIDUTF8.isEmpty { out.byte(0x52); out.lengthDelimited(traceIDUTF8) }"))
        #expect(swiftCodec.contains("var traceID: String = \"\""))
        #expect(swiftCodec.contains("case (10, 2): traceID = try reader.string()"))
        #expect(swiftCodec.contains("window: window, traceID: traceID)"))
    }

    /// Shared/WireC/** and the Swift files of Shared/Wire and Shared/Transport that say they are
    /// generated, by relative path.
    private func generatedFiles(under root: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let wireC = root.appendingPathComponent("Shared/WireC")
        for case let url as URL in FileManager.default.enumerator(at: wireC, includingPropertiesForKeys: nil) ?? .init() {
            guard !url.hasDirectoryPath else { continue }
            let relative = "Shared/WireC/" + url.path.dropFirst(wireC.path.count + 1)
            files[relative] = try Data(contentsOf: url)
        }
        for folder in ["Shared/Wire", "Shared/Transport"] {
            let directory = root.appendingPathComponent(folder)
            guard FileManager.default.fileExists(atPath: directory.path) else { continue }
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".swift") {
                let data = try Data(contentsOf: directory.appendingPathComponent(name))
                if String(decoding: data.prefix(64), as: UTF8.self).hasPrefix("// Generated by scripts/gen-proto") {
                    files["\(folder)/\(name)"] = data
                }
            }
        }
        return files
    }
}
