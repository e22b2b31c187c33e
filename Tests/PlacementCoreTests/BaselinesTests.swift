import Testing
@testable import PlacementCore

/// Our baselines are the paper's baselines: built as the artifact builds them, checked against its layouts.
@Suite struct BaselinesTests {
    /// The artifact's Swarm layouts give every node one of 20 equal, disjoint 4-layer stages.
    @Test(arguments: ["single24", "geo24"])
    func swarmIsThePublishedSwarmLayout(cluster: String) throws {
        for reference in [true, false] {
            let problem = try TestData.problem(cluster, reference: reference)
            let published = try LayoutFile.load(path: TestData.layout("\(cluster)_swarm"), nodeCount: problem.nodes.count)
            let ours = Baselines.swarm(problem)
            #expect(ours.ranges == published.ranges, "\(cluster) (reference tables: \(reference))")
            #expect(ours.ranges.allSatisfy { $0.map { $0.count == 4 && $0.start % 4 == 0 } ?? false })
        }
    }

    /// On the 42-node cluster (seven GPU kinds) the stages are the published ones; which node of a
    /// kind serves which stage may differ where kinds tie in throughput.
    @Test func swarmStagesOnCluster42MatchThePublishedKindsPerStage() throws {
        let problem = try TestData.problem("cluster42", reference: true)
        let published = try LayoutFile.load(path: TestData.layout("cluster42_swarm"), nodeCount: problem.nodes.count)
        let ours = Baselines.swarm(problem)
        func kinds(_ placement: Placement) -> [Int: [String]] {
            var byStage: [Int: [String]] = [:]
            for (i, range) in placement.ranges.enumerated() { if let range { byStage[range.start, default: []].append(problem.nodes[i].type) } }
            return byStage.mapValues { $0.sorted() }
        }
        #expect(kinds(ours) == kinds(published))
    }
}
