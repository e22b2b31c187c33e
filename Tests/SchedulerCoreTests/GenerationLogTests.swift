@testable import SchedulerCore
import Testing
import Wire

/// Retries by request id: attach to the run in flight, replay a finished one, refuse another
/// request under a used id, and keep only a bounded number of finished runs.
@Suite struct GenerationLogTests {
    func token(_ index: UInt32) -> GenerateEvent {
        GenerateEvent(requestID: "r", event: .token(GenerateToken(tokenID: 100 + index, index: index)))
    }

    func collect(_ events: GenerationLog.Events) async throws -> [GenerateEvent] {
        var all: [GenerateEvent] = []
        for try await event in events { all.append(event) }
        return all
    }

    @Test func aRetryAttachesFromTheFirstEventThenReplays() async throws {
        let log = GenerationLog()
        let first = try log.join("r", request: [1])
        #expect(first.isNew)
        log.publish("r", token(0))
        log.publish("r", token(1))
        let second = try log.join("r", request: [1])
        #expect(!second.isNew)
        log.publish("r", token(2))
        log.end("r")
        let expected = [token(0), token(1), token(2)]
        #expect(try await collect(first.events) == expected)
        #expect(try await collect(second.events) == expected)
        let replay = try log.join("r", request: [1])
        #expect(!replay.isNew)
        #expect(try await collect(replay.events) == expected)
        #expect(log.cached.runs == 1 && log.cached.events == 3)
    }

    @Test func anotherRequestUnderAUsedIdIsRefused() throws {
        let log = GenerationLog()
        _ = try log.join("r", request: [1])
        #expect { _ = try log.join("r", request: [2]) } throws: { ($0 as? Status)?.code == .alreadyExists }
    }

    @Test func aFailedRunIsForgottenAndItsListenersGetTheError() async throws {
        let log = GenerationLog()
        let first = try log.join("r", request: [1])
        log.end("r", error: Status(.resourceExhausted, "queue full"))
        await #expect { _ = try await collect(first.events) } throws: { ($0 as? Status)?.code == .resourceExhausted }
        #expect(try log.join("r", request: [2]).isNew)
    }

    /// The admission of a new run (the per-client waiting limit) is asked once per run: not by a
    /// retry that attaches, and a refusal leaves no run behind.
    @Test func onlyANewRunIsAdmittedAndARefusalStartsNothing() throws {
        let log = GenerationLog()
        #expect { _ = try log.join("r", request: [1]) { throw Status(.resourceExhausted, "over the limit") } } throws: {
            ($0 as? Status)?.code == .resourceExhausted
        }
        var admitted = 0
        #expect(try log.join("r", request: [1]) { admitted += 1 }.isNew)
        #expect(!(try log.join("r", request: [1]) { admitted += 1 }.isNew))
        log.end("r")
        #expect(!(try log.join("r", request: [1]) { admitted += 1 }.isNew))
        #expect(admitted == 1)
    }

    @Test func onlyTheKeyThatStartedARunMayJoinIt() throws {
        let log = GenerationLog()
        #expect(try log.join("r", request: [1], owner: "a").isNew)
        #expect { _ = try log.join("r", request: [1], owner: "b") } throws: { ($0 as? Status)?.code == .permissionDenied }
        #expect(!(try log.join("r", request: [1], owner: "a").isNew))
        #expect(!(try log.join("r", request: [1], owner: nil).isNew), "the cluster secret joins any run")
    }

    @Test func leavingTellsWhenNobodyListens() throws {
        let log = GenerationLog()
        let a = try log.join("r", request: [1])
        let b = try log.join("r", request: [1])
        #expect(!log.leave("r", listener: a.listener))
        #expect(log.leave("r", listener: b.listener))
        #expect(log.isAbandoned("r"))
        _ = try log.join("r", request: [1])
        #expect(!log.isAbandoned("r"))
    }

    @Test func finishedRunsAreBoundedByCountEventsAndAge() throws {
        let log = GenerationLog(retention: .init(seconds: 60, runs: 3, events: 5))
        let start = ContinuousClock.now
        for n in 0..<5 {
            _ = try log.join("r\(n)", request: [1], now: start)
            log.publish("r\(n)", token(0))
            log.end("r\(n)", now: start)
        }
        #expect(log.cached.runs == 3 && log.cached.events == 3)
        #expect(try log.join("r0", request: [9], now: start).isNew)   // evicted: the id is free again
        log.end("r0", error: Status(.cancelled, "test"))
        for n in 5..<8 {
            _ = try log.join("r\(n)", request: [1], now: start)
            for i in 0..<2 { log.publish("r\(n)", token(UInt32(i))) }
            log.end("r\(n)", now: start)
        }
        #expect(log.cached.events <= 5)
        _ = try log.join("late", request: [1], now: start + .seconds(61))
        #expect(log.cached.runs == 0)
    }
}
