import Foundation
import Testing
@testable import PlacementCore

@Suite struct ThroughputModelTests {
    /// Every entry of the artifact's tables, recomputed from the profiles and the cluster mix.
    @Test(arguments: [("LLaMa70B", ModelSpec.llama2_70b), ("LLaMa30B", ModelSpec.llama1_30b)])
    func reproducesPublishedTables(modelKey: String, model: ModelSpec) throws {
        let data = try #require(FileManager.default.contents(atPath: TestData.tablesPath))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let clusters = try #require(root[modelKey] as? [String: Any])
        var worst = 0.0, checked = 0
        var failures: [String] = []
        for clusterKey in clusters.keys.sorted() {
            let reference = try ReferenceTables.load(path: TestData.tablesPath, modelKey: modelKey, clusterKey: clusterKey)
            var mix = reference.machineCounts
            for type in reference.tables.keys where mix[type] == nil { mix[type] = 0 }
            let profiles = try reference.tables.keys.reduce(into: [String: GPUProfile]()) { result, type in
                result[type] = try GPUProfile.load(type: type, model: model, machine: MachineType.builtin[type]!, dataDirectory: TestData.directory)
            }
            let ours = try ThroughputModel.tables(model: model, mix: mix.filter { $0.value > 0 }, profiles: profiles, machines: MachineType.builtin)
            for (type, ref) in reference.tables {
                guard let mine = ours[type] else { failures.append("\(clusterKey) \(type): missing"); continue }
                #expect(mine.maxLayers == ref.maxLayers)
                for k in 1...ref.maxLayers {
                    let error = abs(mine.tokensPerSecond[k - 1] - ref.tokensPerSecond[k - 1]) / ref.tokensPerSecond[k - 1]
                    worst = max(worst, error)
                    checked += 1
                    #expect(mine.kvCapacity[k - 1] == ref.kvCapacity[k - 1])
                    // The intermediate quantities too: typical prompt requests (published to 4
                    // decimals), prompt and decode tokens of the typical batch.
                    let batch = "\(clusterKey) \(type) k=\(k): R \(mine.promptTypicalRequests[k - 1]) P \(mine.promptTypicalTokens[k - 1]) D \(mine.decodeTypicalTokens[k - 1])"
                    #expect(abs(mine.promptTypicalRequests[k - 1] - ref.promptTypicalRequests[k - 1]) <= 0.00005 + 1e-9, "\(batch)")
                    #expect(mine.promptTypicalTokens[k - 1] == ref.promptTypicalTokens[k - 1], "\(batch)")
                    #expect(mine.decodeTypicalTokens[k - 1] == ref.decodeTypicalTokens[k - 1], "\(batch)")
                    if error > 0.005 {
                        failures.append("\(clusterKey) \(type) k=\(k): ours \(mine.tokensPerSecond[k - 1]) published \(ref.tokensPerSecond[k - 1])")
                    }
                }
            }
        }
        #expect(checked > 100)
        #expect(failures.isEmpty, "\(failures.count) of \(checked) entries off by more than 0.5% (worst \(worst)): \(failures.prefix(8))")
    }
}
