import Foundation
import Testing
import Wire

/// The .proto files are the contract: Python's protobuf (code generated with protoc --python_out)
/// and our protobuf-c based Swift types must read each other's bytes. Driven through
/// clients/python/wire_crosscheck.py.
@Suite(.enabled(if: toolAvailable("protoc"), "protoc is not installed (apt-get install protobuf-compiler)"))
struct CrossLanguageTests {
    struct RoundTrip: Decodable {
        struct Result: Decodable {
            var type: String
            var hex: String?
            var unset: [String]?
            var unknown_fields: Bool?
            var error: String?
        }
        var results: [Result]
        var uncovered_types: [String]
        var uncovered_oneof_members: [String]
    }

    /// Swift encodes every sample; Python decodes it (knowing every field, finding none at default)
    /// and re-encodes what it understood; Swift decodes that back to the sample.
    @Test func swiftToPythonAndBack() throws {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("crosscheck-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: input) }
        let items = Samples.all.map { ["type": "\(type(of: $0))", "hex": $0.encode().hex] }
        try JSONSerialization.data(withJSONObject: items).write(to: input)

        let run = try runProcess(try pythonWithProtobuf(), ["clients/python/wire_crosscheck.py", "roundtrip", input.path])
        try #require(run.status == 0, "wire_crosscheck.py failed: \(run.stderr)")
        let answer = try JSONDecoder().decode(RoundTrip.self, from: Data(run.stdout.utf8))
        #expect(answer.uncovered_types.isEmpty, "messages with no sample: \(answer.uncovered_types)")
        #expect(answer.uncovered_oneof_members.isEmpty, "oneof cases with no sample: \(answer.uncovered_oneof_members)")
        try #require(answer.results.count == Samples.all.count)
        for (sample, result) in zip(Samples.all, answer.results) {
            #expect(result.error == nil, "\(result.type): \(result.error ?? "")")
            #expect(result.unset ?? [] == [], "\(result.type): Python read these at their default: \(result.unset ?? [])")
            #expect(result.unknown_fields == false, "\(result.type): Python found fields it does not know")
            let back = try #require([UInt8](hex: result.hex ?? "x"), "\(result.type): no bytes back")
            #expect(try decodes(back, as: sample), "\(result.type): Python's re-encoding decodes to something else")
        }
    }

    /// Messages built in Python decode in Swift to the values the Python code wrote.
    @Test func pythonToSwift() throws {
        let run = try runProcess(try pythonWithProtobuf(), ["clients/python/wire_crosscheck.py", "samples"])
        try #require(run.status == 0, "wire_crosscheck.py failed: \(run.stderr)")
        let hex = try JSONDecoder().decode([String: String].self, from: Data(run.stdout.utf8))
        func bytes(_ key: String) throws -> [UInt8] { try #require(hex[key].flatMap { [UInt8](hex: $0) }, "missing \(key)") }

        #expect(try PlanRequest(wire: bytes("plan")) == PlanRequest(
            cluster: Cluster(
                name: "geo24",
                nodes: [ClusterNode(name: "n0", gpuType: "L4", gpuCount: 1, gpuMemoryBytes: 24 << 30,
                                    nicInBytesPerSecond: 1.25e9, nicOutBytesPerSecond: 1e9, region: "asia")],
                links: [ClusterLink(fromNode: "source", toNode: "n0", bandwidthBytesPerSecond: 1.25e8,
                                    latencySeconds: 0.025, oneWay: true)],
                fileFormat: .yaml),
            model: ModelSpec(name: "llama1-30b"), method: .heuristic, budgetSeconds: 2.5, seed: (1 << 63) + 5,
            variant: .strict))
        #expect(try GenerateEvent(wire: bytes("token")) == GenerateEvent(
            requestID: "r1", event: .token(GenerateToken(tokenID: 42, text: "naïve ✓", index: 7, logprob: -0.5))))
        #expect(try GenerateEvent(wire: bytes("finished")) == GenerateEvent(
            requestID: "r1", event: .finished(GenerateFinished(reason: .stop, promptTokens: 3, generatedTokens: 8,
                                                               totalSeconds: 1.25, route: ["w1", "w2"]))))
        // struct.pack("<3e", 1.0, -2.0, 0.5): IEEE half floats, little-endian.
        #expect(try ForwardRequest(wire: bytes("forward")) == ForwardRequest(items: [ForwardItem(
            requestID: "r1", positions: [3],
            hidden: HiddenStates(data: [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38], dtype: .float16, shape: [1, 3]),
            start: 4, end: 8, route: [RouteHop(address: "127.0.0.1:9001", start: 8, end: 12, workerID: "w3")],
            replyTo: "127.0.0.1:9000", sampling: SamplingParams(temperature: 0.5, topP: 0.75, seed: 99))]))
        #expect(try ForwardResult(wire: bytes("no_logprob")) == ForwardResult(requestID: "r1", tokenID: 5, logprob: nil))
        #expect(try ForwardResult(wire: bytes("zero_logprob")) == ForwardResult(requestID: "r1", tokenID: 5, logprob: 0))
        #expect(try OptimizeEvent(wire: bytes("optimized")) == OptimizeEvent(event: .result(OptimizeResult(
            qasm: "OPENQASM 2.0;\n", countsBefore: [GateCount(gate: "cx", count: 4)],
            countsAfter: [GateCount(gate: "cx", count: 2)], costBefore: 4, costAfter: 2, verdict: .verifiedExact,
            verdictDetail: "unitary, 3 qubits"))))
        #expect(try ClusterStatusResponse(wire: bytes("status")) == ClusterStatusResponse(
            workers: [WorkerStatus(workerID: "w9", backend: .cpu, layers: LayerRange(start: 0, end: 2), health: .dead)],
            queueLength: 1))
    }
}

/// Decodes `bytes` as the sample's type and compares with the sample.
func decodes<M: CBridged>(_ bytes: [UInt8], as sample: M) throws -> Bool {
    try M(wire: bytes) == sample
}
