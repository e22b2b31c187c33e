import Testing
@testable import PlacementCore

@Suite struct SolveProgressTests {
    @Test func aPhaseWithABoundShowsItsGap() {
        let line = SolveProgress(elapsedSeconds: 1.5, phase: "cover", bestObjective: 800, bound: 1000).line
        #expect(line == "[   1.5s] cover best 800.00 bound 1000.00 gap 25.0%")
    }

    /// The simulated ranking reports no bound; a "gap 0.0%" there would claim a proof nobody made.
    @Test func aPhaseWithoutABoundShowsNoGap() {
        let line = SolveProgress(elapsedSeconds: 7.3, phase: "simulated 0", bestObjective: 800.85, bound: 0).line
        #expect(line == "[   7.3s] simulated 0 best 800.85")
    }
}
