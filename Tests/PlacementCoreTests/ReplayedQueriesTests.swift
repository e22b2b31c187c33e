import Foundation
import Testing
@testable import PlacementCore

/// Replaying another simulator's queries (`lattice simulate --queries FILE`): the file's rows are
/// issued in order, wrapping round, instead of uniform draws; a bad row is named.
@Suite struct ReplayedQueriesTests {
    static func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("queries-\(UUID().uuidString).csv").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func rowsAreIssuedInOrderWrappingRound() throws {
        let path = try Self.file("input,output\n30,2\n10,1\n20,0\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let workload = try Workload.queries(path: path)
        #expect(workload.inputLengths == [30, 10, 20] && workload.outputLengths == [2, 1, 0])

        let (problem, placement) = SimulatorModelTests.chain()
        var config = SimulationConfig(mode: .offline, routing: .swarm)
        config.artifactQueries = 7
        config.queriesInOrder = true
        config.warmupSeconds = 0
        config.measureSeconds = 1
        var engine = try SimulationEngine(problem: problem, placement: placement, flows: FlowScorer.runtimeFlow(problem, placement, .strict),
                                          connectivity: .strict, workload: workload, config: config, profiles: ["X": NodeBatchTests.profile])
        engine.run()
        #expect(engine.requests.prefix(7).map(\.input) == [30, 10, 20, 30, 10, 20, 30])
        #expect(engine.requests.prefix(7).map(\.output) == [2, 1, 0, 2, 1, 0, 2])
        // Drawn instead, the same seven are not the file's order.
        config.queriesInOrder = false
        var drawn = try SimulationEngine(problem: problem, placement: placement, flows: FlowScorer.runtimeFlow(problem, placement, .strict),
                                         connectivity: .strict, workload: workload, config: config, profiles: ["X": NodeBatchTests.profile])
        drawn.run()
        #expect(drawn.requests.prefix(7).map(\.input) != [30, 10, 20, 30, 10, 20, 30])
    }

    /// `lattice load --seed` sends `Workload.offlineDraws`: they must be the queries a closed-loop
    /// simulation with that seed issues, in its order, and not the file's rows in order (what the
    /// load sent before, a mix of queries the simulator never serves).
    @Test func theLiveLoadsQueriesAreTheSimulatorsDraws() throws {
        let workload = Workload(inputLengths: Array(stride(from: 10, through: 80, by: 10)), outputLengths: Array(1...8), arrivalTrace: [])
        let (problem, placement) = SimulatorModelTests.chain()
        var config = SimulationConfig(mode: .offline, routing: .iwrr, seed: 3)
        config.offlineQueries = 5
        config.warmupSeconds = 0
        config.measureSeconds = 5
        var engine = try SimulationEngine(problem: problem, placement: placement, flows: FlowScorer.runtimeFlow(problem, placement, .strict),
                                          connectivity: .strict, workload: workload, config: config, profiles: ["X": NodeBatchTests.profile])
        engine.run()
        let issued = engine.requests.map { [$0.input, $0.output] }
        #expect(issued.count > 5, "the closed loop replaced finished queries (\(issued.count) issued)")
        #expect(issued == workload.offlineDraws(count: issued.count, seed: 3).map { [$0.input, $0.output] })
        #expect(workload.offlineDraws(count: 8, seed: 3).map(\.input) != workload.inputLengths)
        #expect(workload.offlineDraws(count: 8, seed: 3).map(\.input) != workload.offlineDraws(count: 8, seed: 4).map(\.input))
    }

    @Test func aBadRowIsNamed() throws {
        let path = try Self.file("input,output\n30,2\n0,1\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: PlacementError(file: path, "line 3: expected 'input,output' token counts (input at least 1), found '0,1'")) {
            try Workload.queries(path: path)
        }
    }
}
