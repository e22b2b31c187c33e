import Foundation
import Testing
@testable import PlacementCore

/// Workers that timed themselves are planned from their own curves: a faster worker gets a
/// higher T at every k, T falls as k grows, and no worker is offered more layers than it may hold.
@Suite struct MeasuredProfileTests {
    static let model = ModelSpec(name: "tiny", profileName: "tiny", numLayers: 30, hiddenSize: 576, layerParamBytes: 3e6)

    static func profile(_ type: String, scale: Double, maxLayers: Int) throws -> GPUProfile {
        try .measured(type: type, prompt: [(8, 2e-4 * scale), (32, 6e-4 * scale)], decode: [(1, 1e-4 * scale), (4, 1.5e-4 * scale)],
                      maxLayers: maxLayers, kvEntriesAtMax: 4096 * maxLayers, model: model)
    }

    @Test func fasterWorkersGetMoreThroughputAndLimitsHold() throws {
        let machine = { (name: String) in MachineType(name: name, vramBytes: 0, nicInBytesPerSecond: 1e10, nicOutBytesPerSecond: 1e10) }
        let types = ["CPU@fast", "CPU@slow", "CPU@small"]
        let cluster = try Cluster(name: "live", machineTypes: Dictionary(uniqueKeysWithValues: types.map { ($0, machine($0)) }),
                                  nodes: types.map { ComputeNode(name: String($0.dropFirst(4)), type: $0) },
                                  links: types.indices.flatMap { i in [Link(.source, .node(i), bandwidthBytesPerSecond: 1e9, latencySeconds: 0),
                                                                      Link(.node(i), .sink, bandwidthBytesPerSecond: 1e9, latencySeconds: 0)] })
        let measured = ["CPU@fast": try Self.profile("CPU@fast", scale: 0.5, maxLayers: 14),
                        "CPU@slow": try Self.profile("CPU@slow", scale: 1, maxLayers: 14),
                        "CPU@small": try Self.profile("CPU@small", scale: 1, maxLayers: 8)]
        let problem = try PlacementProblem.build(cluster: cluster, model: Self.model, unprofiledTypes: ["CPU"], measured: measured)
        let node = { (name: String) in problem.nodes.first { $0.name == name } }
        let fast = try #require(node("fast")), slow = try #require(node("slow")), small = try #require(node("small"))
        #expect(fast.maxLayers == 14 && slow.maxLayers == 14 && small.maxLayers == 8)
        for k in 1...14 {
            #expect(fast.throughput(layers: k) > slow.throughput(layers: k) * 1.9, "k = \(k)")
            #expect(abs(slow.throughput(layers: k) * Double(k) - slow.throughput(layers: 1)) < 1e-6 * slow.throughput(layers: 1), "T(k) = T(1) / k at one batch size")
        }
        // 4096 tokens per layer take 4 sequences of the average length: batch 4, 4 / (k · 1.5e-4 s).
        #expect(abs(slow.throughput(layers: 2) - 4 / (2 * 1.5e-4)) < 1e-6)
        #expect(small.kvCapacity == (1...8).map { 4096 * $0 })
    }

    /// The planning objective rule `lattice plan` and placement/Plan share: serving where every type
    /// has a latency profile (GPU files, or a worker's own timings), flow where one is nominal.
    @Test func servingObjectiveNeedsAProfileForEveryType() throws {
        let machine = MachineType(name: "CPU@w", vramBytes: 0, nicInBytesPerSecond: 1e10, nicOutBytesPerSecond: 1e10)
        let cluster = try Cluster(name: "two", machineTypes: ["CPU@w": machine, "CPU": MachineType(name: "CPU", vramBytes: 0, nicInBytesPerSecond: 1e10, nicOutBytesPerSecond: 1e10)],
                                  nodes: [ComputeNode(name: "w", type: "CPU@w"), ComputeNode(name: "c", type: "CPU")],
                                  links: [Link(.source, .node(0), bandwidthBytesPerSecond: 1e9, latencySeconds: 0), Link(.node(0), .node(1), bandwidthBytesPerSecond: 1e9, latencySeconds: 0),
                                          Link(.node(1), .sink, bandwidthBytesPerSecond: 1e9, latencySeconds: 0), Link(.node(0), .sink, bandwidthBytesPerSecond: 1e9, latencySeconds: 0)])
        let measured = ["CPU@w": try Self.profile("CPU@w", scale: 1, maxLayers: 14)]
        let mixed = try PlacementProblem.build(cluster: cluster, model: Self.model, unprofiledTypes: ["CPU"], measured: measured)
        var options = SolveOptions()
        #expect(ServingModel.forPlanning(problem: mixed, connectivity: .partial, measured: measured) == nil)
        #expect(options.use(.serving, serving: nil) == .flow && options.serving == nil)
        let single24 = try TestData.problem("single24")
        let model = try #require(ServingModel.forPlanning(problem: single24, connectivity: .partial, dataDirectory: TestData.directory))
        #expect(options.use(.serving, serving: model, decodeLatencyBound: 2) == .serving && options.serving != nil && options.decodeLatencyBound == 2)
        #expect(options.use(.flow, serving: model) == .flow && options.serving == nil && options.decodeLatencyBound == nil)
    }

    @Test func badMeasurementsAreRefusedByName() {
        #expect(throws: PlacementError.self) {
            try GPUProfile.measured(type: "CPU@w", prompt: [(8, 1e-4)], decode: [(1, 1e-4), (4, 2e-4)], maxLayers: 4, kvEntriesAtMax: 100, model: Self.model)
        }
        #expect(throws: PlacementError.self) {
            try GPUProfile.measured(type: "CPU@w", prompt: [(8, 1e-4), (16, 2e-4)], decode: [(1, -1), (4, 2e-4)], maxLayers: 4, kvEntriesAtMax: 100, model: Self.model)
        }
        #expect(throws: PlacementError.self) {
            try GPUProfile.measured(type: "CPU@w", prompt: [(8, 1e-4), (16, 2e-4)], decode: [(1, 1e-4), (4, 2e-4)], maxLayers: 0, kvEntriesAtMax: 100, model: Self.model)
        }
    }
}
