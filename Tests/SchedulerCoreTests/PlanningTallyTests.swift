@testable import SchedulerCore
import Testing

@Suite struct PlanningTallyTests {
    /// Asks that come close together share one plan: the plan answers those made before it
    /// began, its time runs from the first of them, and a later ask waits for the next plan.
    @Test func aPlanAnswersTheAsksBeforeItBeganAndIsTimedFromTheFirst() {
        let t0 = ContinuousClock.now
        var tally = PlanningTally()
        tally.ask(.dropped, at: t0)
        tally.ask(.joined, at: t0 + .milliseconds(100))
        tally.ask(.joined, at: t0 + .milliseconds(900))   // after the plan began: the next plan's
        tally.applied(byPlacement: true, rerouted: 2, began: t0 + .milliseconds(500), at: t0 + .milliseconds(1500))
        #expect(tally.plans == 1 && tally.plansByPlacement == 1 && tally.plansFallback == 0)
        #expect(tally.reroutedRequests == 2)
        #expect(tally.lastPlanSeconds == 1.5)

        tally.applied(byPlacement: false, rerouted: 0, began: t0 + .milliseconds(2000), at: t0 + .milliseconds(2200))
        #expect(tally.plans == 2 && tally.plansFallback == 1)
        #expect(abs(tally.lastPlanSeconds - 1.3) < 1e-9, "timed from the ask at 0.9 s")

        let figures = Dictionary(uniqueKeysWithValues: tally.figures.map { ($0.name, $0.value) })
        #expect(figures["plans_made"] == 2)
        #expect(figures["replans_asked_joined"] == 2)
        #expect(figures["replans_asked_dropped"] == 1)
        #expect(figures["replans_asked_left"] == 0)
        #expect(figures["plan_rerouted_requests"] == 2)
    }

    /// A plan nobody asked for since the last one (a debounced ask it already answered) keeps
    /// the last plan's time instead of reporting zero.
    @Test func aPlanWithNoAskOfItsOwnKeepsTheLastTime() {
        let t0 = ContinuousClock.now
        var tally = PlanningTally()
        tally.ask(.left, at: t0)
        tally.applied(byPlacement: false, rerouted: 0, began: t0 + .milliseconds(200), at: t0 + .milliseconds(250))
        tally.applied(byPlacement: false, rerouted: 0, began: t0 + .milliseconds(400), at: t0 + .milliseconds(420))
        #expect(tally.plans == 2)
        #expect(tally.lastPlanSeconds == 0.25)
    }
}
