import Foundation
import Testing
@testable import PlacementCore

/// The serving model's prompt interference (`PromptInterference`) against the Helix artifact's
/// simulator, on the runs of it kept in `scripts/helix-sim-results` (offline, 120 s).
@Suite struct PromptInterferenceTests {
    @Test func aNodesPromptLoadStretchesItsDecodePasses() {
        var interference = PromptInterference(nodes: 3)
        interference.add(node: 0, promptsPerSecond: 2, secondsPerPrompt: 0.1)
        interference.add(node: 0, promptsPerSecond: 1, secondsPerPrompt: 0.05)
        interference.add(node: 2, promptsPerSecond: 10, secondsPerPrompt: 1)
        #expect(abs(interference.busy(node: 0) - 0.25) < 1e-12)
        #expect(abs(interference.stretch(node: 0) - 4.0 / 3) < 1e-12)
        #expect(interference.stretch(node: 1) == 1)
        #expect(interference.busy(node: 2) == PromptInterference.saturated)
        #expect(abs(interference.stretch(node: 2) - 10) < 1e-9)
    }

    static func measured(_ name: String) throws -> Double {
        try #require(HelixFidelityTests.helixFigures("\(HelixFidelityTests.results)/\(name)-120.json")[.decodeTokensPerSecond])
    }

    /// Helix's layouts: without prompt work in τ the model's bound sits 12% above the artifact's
    /// simulator on both link-free clusters (282.2 / 252.8, 714.8 / 638.6); with it, within 5%.
    @Test(arguments: ["single24", "cluster42"])
    func helixLayoutIsPredictedWithinFivePercent(cluster: String) throws {
        let model = try ServingModelTests.model(cluster)
        let layout = try LayoutFile.load(path: TestData.layout("\(cluster)_helix_milp"), nodeCount: model.problem.nodes.count)
        let p = model.predict(layout)
        let theirs = try Self.measured("\(cluster)-\(cluster)_helix_milp")
        #expect(abs(p.decodeTokensPerSecond / theirs - 1) <= 0.05, "predicted \(p.decodeTokensPerSecond), helix-sim \(theirs)")
        #expect(p.boundTokensPerSecond / theirs > 1.1, "bound \(p.boundTokensPerSecond), helix-sim \(theirs)")
    }

    /// single24's session-7 and session-8 plans reach the same bound (the flow caps both at 324.7),
    /// but serve 282.3 and 298.2 decode tokens/s in the artifact's simulator; the estimate ranks them
    /// the same way. The judge climbs the bound (prompt interference off), so it scores them alike.
    @Test func estimateSeparatesSingle24PlansTheBoundTies() throws {
        let model = try ServingModelTests.model("single24")
        let n = model.problem.nodes.count
        let s7 = try LayoutFile.load(path: "\(HelixFidelityTests.results)/single24-plan-s7-n3000.layout.json", nodeCount: n)
        let s8 = try LayoutFile.load(path: "\(HelixFidelityTests.results)/single24-plan-s8-default.layout.json", nodeCount: n)
        let a = model.predict(s7), b = model.predict(s8)
        #expect(abs(a.boundTokensPerSecond - b.boundTokensPerSecond) < 0.01, "\(a) \(b)")
        #expect(try Self.measured("single24-plan-s8-default") > Self.measured("single24-plan-s7-n3000"))
        #expect(b.decodeTokensPerSecond > a.decodeTokensPerSecond + 3, "s7 \(a), s8 \(b)")
        let judge = Planner.servingJudge(model, bound: nil)
        #expect(judge(s7).value == a.boundTokensPerSecond && judge(s8).value == b.boundTokensPerSecond)
        #expect(model.climbed.predict(s8).decodeTokensPerSecond == b.boundTokensPerSecond)
    }
}
