@testable import Client
import Testing
import Wire

/// The client's side of a retry by request id: tokens it already has are checked and skipped,
/// so each arrives once, in order; a retry that regenerates other tokens is refused.
@Suite struct ResumedStreamTests {
    func token(_ index: UInt32, _ id: UInt32) -> GenerateEvent {
        GenerateEvent(requestID: "r", event: .token(GenerateToken(tokenID: id, index: index)))
    }

    @Test func aRetrySkipsWhatWasDeliveredAndPassesTheRest() throws {
        var first = ResumedStream(delivered: [], requestID: "r")
        #expect(try first.admit(token(0, 7)) != nil)
        #expect(try first.admit(token(1, 8)) != nil)
        var retry = ResumedStream(delivered: first.delivered, requestID: "r")
        let queued = GenerateEvent(requestID: "r", event: .queued(GenerateQueued(queuePosition: 0, reason: "no plan yet")))
        #expect(try retry.admit(queued) == queued)
        #expect(try retry.admit(token(0, 7)) == nil)
        #expect(try retry.admit(token(1, 8)) == nil)
        #expect(try retry.admit(token(2, 9)) == token(2, 9))
        #expect(retry.delivered == [7, 8, 9])
    }

    @Test func aRetryThatGeneratesOtherTokensIsDataLoss() throws {
        var retry = ResumedStream(delivered: [7, 8], requestID: "r")
        #expect { _ = try retry.admit(token(1, 5)) } throws: { ($0 as? Status)?.code == .dataLoss }
        var gap = ResumedStream(delivered: [7], requestID: "r")
        #expect { _ = try gap.admit(token(3, 5)) } throws: { ($0 as? Status)?.code == .internal }
    }
}
