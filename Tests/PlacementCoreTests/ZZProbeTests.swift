import Foundation
import Testing
@testable import PlacementCore

@Suite struct ZZProbeTests {
    @Test func probe() throws {
        for name in ["single24", "geo24", "cluster42"] {
            let problem = try TestData.problem(name, reference: true)
            let serving = try ServingModel(problem: problem, connectivity: .partial, profiles: GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory))
            let (capped, count) = serving.servableProblem()
            var lines: [String] = []
            var seen = Set<String>()
            for (i, node) in problem.nodes.enumerated() where !seen.contains(node.type) {
                seen.insert(node.type)
                lines.append(node.type + ": " + (1...node.maxLayers).map { k in String(format: "%d:%.0f/%.0f", k, node.throughput[k-1], capped.nodes[i].throughput[k-1]) }.joined(separator: " "))
            }
            print("PROBE \(name) capped \(count) UB \(problem.upperBound) -> \(capped.upperBound)\n" + lines.joined(separator: "\n"))
        }
    }
}
