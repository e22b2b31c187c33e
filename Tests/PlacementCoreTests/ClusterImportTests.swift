import Foundation
import Testing
@testable import PlacementCore

@Suite struct ClusterImportTests {
    @Test func helixIniUsesByteBasedUnits() throws {
        let cluster = try ClusterLoader.load(path: TestData.cluster("single24"), dataDirectory: TestData.directory)
        #expect(cluster.nodes.count == 24)
        #expect(cluster.typeCounts == ["A100": 4, "L4": 8, "T4": 12])
        let link = try #require(cluster.links.first { $0.a == .source && $0.b == .node(0) })
        #expect(link.bandwidthBytesPerSecond == 1e9)  // "1000 * mbps" = 1e9 bytes/s
        #expect(link.latencySeconds == 0.001)
        #expect(cluster.machineTypes["A100"]?.vramBytes == 40e9)
    }

    @Test func jsonClusterWithFullMesh() throws {
        let path = try TestData.cluster10()
        let cluster = try ClusterLoader.load(path: path, dataDirectory: TestData.directory)
        #expect(cluster.nodes.count == 10)
        #expect(cluster.links.count == 45 + 20)
        #expect(cluster.typeCounts == ["T4": 6, "L4": 4])
    }

    @Test func unknownGPUTypeNamesFileSectionAndField() throws {
        let path = try TestData.temporaryFile("bad.ini", "[NodeNames]\ntotal_compute_nodes=1\n[ComputeNode-0]\ntype=H900\n[Link-source-0]\nbandwidth=1 * gbps\nlatency=1 * MilliSec\n")
        let error = try #require(throws: PlacementError.self) { try ClusterLoader.load(path: path, dataDirectory: TestData.directory) }
        #expect(error.section == "ComputeNode-0" && error.field == "type" && error.file == path)
        #expect(error.description.contains("H900"))
    }

    @Test func linkToMissingNodeIsReported() throws {
        let path = try TestData.temporaryFile("bad.ini", "[NodeNames]\ntotal_compute_nodes=1\n[ComputeNode-0]\ntype=T4\n[Link-0-7]\nbandwidth=1 * gbps\nlatency=1 * MilliSec\n")
        let error = try #require(throws: PlacementError.self) { try ClusterLoader.load(path: path, dataDirectory: TestData.directory) }
        #expect(error.section == "Link-0-7")
        #expect(error.description.contains("node 7"))
    }

    @Test func badJSONFieldIsNamed() throws {
        let path = try TestData.temporaryFile("bad.json", #"{"nodes": [{"name": "a", "type": "T4"}], "links": [{"from": "source", "to": "b", "bandwidth_bytes_per_s": 1e9, "latency_s": 0}]}"#)
        let error = try #require(throws: PlacementError.self) { try ClusterLoader.load(path: path, dataDirectory: TestData.directory) }
        #expect(error.section == "links[0]" && error.field == "to")
    }

    @Test func modelThatCannotFitIsRejected() throws {
        let path = try TestData.temporaryFile("small.json", #"{"nodes": [{"name": "a", "type": "T4"}, {"name": "b", "type": "T4"}], "full_mesh": {"bandwidth_bytes_per_s": 1e9, "latency_s": 0.001}}"#)
        let error = try #require(throws: PlacementError.self) {
            try PlacementProblem.load(clusterPath: path, model: .llama2_70b, dataDirectory: TestData.directory)
        }
        #expect(error.description.contains("cannot fit"))
    }

    @Test func modelsByNameAndConfig() throws {
        #expect(try ModelSpec.resolve("llama2-70b").numLayers == 80)
        #expect(try ModelSpec.resolve("llama1-30b").activationSize == 13312)
        let config = try TestData.temporaryFile("config.json", #"{"num_hidden_layers": 80, "hidden_size": 8192, "intermediate_size": 28672, "num_attention_heads": 64, "num_key_value_heads": 8, "profile_name": "llama2_70b"}"#)
        let model = try ModelSpec.fromConfig(path: config)
        #expect(model.numLayers == 80 && model.profileName == "llama2_70b")
        #expect(abs(model.layerParamBytes - 1.71e9) / 1.71e9 < 0.02)
        #expect(throws: PlacementError.self) { try ModelSpec.resolve("gpt-9") }
    }
}
