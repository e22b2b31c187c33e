import Foundation
import Testing
@testable import WorkerCore

/// Looping requests that circle apart are pulled into step: a batch waits for the ones trailing
/// it by less than half a lap, never for the ones ahead, and never for released ones.
struct StepAlignerTests {
    let start = Date(timeIntervalSince1970: 1_000)

    @Test func theLeadingGroupWaitsForTheTrailingOneOnly() throws {
        let aligner = StepAligner(maxWait: 1)
        aligner.passed([("a", true)], at: start)
        aligner.passed([("b", true)], at: start.addingTimeInterval(0.002))   // b trails a by 2 ms
        // a is back after a 10 ms lap: wait for b (due in about 2 ms), at most half a lap.
        let wait = try #require(aligner.stragglers(pending: ["a"], isHeld: { _ in true }, now: start.addingTimeInterval(0.010)))
        #expect(wait.ids == ["b"])
        #expect(abs(wait.until.timeIntervalSince(start) - 0.015) < 1e-6)
        // Had a gone alone, b arriving later must not wait for a (a lap ahead of it now).
        aligner.passed([("a", true)], at: start.addingTimeInterval(0.011))
        #expect(aligner.stragglers(pending: ["b"], isHeld: { _ in true }, now: start.addingTimeInterval(0.012)) == nil)
    }

    @Test func releasedFinishedAndNewRequestsAreNotWaitedFor() {
        let aligner = StepAligner(maxWait: 1)
        aligner.passed([("a", true), ("done", false)], at: start)
        aligner.passed([("gone", true)], at: start.addingTimeInterval(0.001))
        // "done" ended its loop, "gone" was released here; "new" has never passed (a prompt).
        #expect(aligner.stragglers(pending: ["a"], isHeld: { $0 != "gone" }, now: start.addingTimeInterval(0.010)) == nil)
        #expect(aligner.stragglers(pending: ["new"], isHeld: { _ in true }, now: start.addingTimeInterval(0.010)) == nil)
    }

    @Test func theWaitIsBounded() throws {
        let aligner = StepAligner(maxWait: 0.05)
        aligner.passed([("a", true)], at: start)
        aligner.passed([("b", true)], at: start.addingTimeInterval(0.2))
        let wait = try #require(aligner.stragglers(pending: ["a"], isHeld: { _ in true }, now: start.addingTimeInterval(1)))
        #expect(abs(wait.until.timeIntervalSince(start) - 1.05) < 1e-6)
    }
}
