import Client
import Foundation
import LatticeTesting
import Testing

/// Request ids against per-client limits (issue 12). A client that drops its connection leaves
/// its queued runs living on for the retry grace (for a retry by request id to attach); they keep
/// counting against its API key until they are cancelled or finish, so reconnecting does not buy a
/// fresh share, and a retry attaches to its run without taking a second slot. A run belongs to
/// the key that started it: another key can neither attach to it nor cancel it.
extension Integration.ClientLimitsTests {
    /// As `startGenerate(_:maxTokens:)`, with request id `id`: the same id asks the same again.
    func startGenerate(_ client: ServiceClient, id: String) async throws -> (AsyncThrowingStream<GenerateEvent, Error>.AsyncIterator, GenerateEvent?) {
        let request = GenerateRequest(promptTokenIDs: [1, 2], maxTokens: 4, requestID: id)
        var events = client.stream(Methods.Scheduler.generate.name, request, as: GenerateEvent.self).makeAsyncIterator()
        let first = try await events.next()
        return (events, first)
    }

    @Test func aReconnectingClientCannotQueueMoreThanItsLimitAndItsRetryAttaches() async throws {
        let model = try LatticeCLI.tinyModel(layers: 2)
        // A grace far past the test's length: only a cancel or a finish frees an orphaned run's slot.
        try await withKeyedScheduler(["--max-queued-per-client", "2", "--retry-grace", "\(TestTime.seconds(600))",
                                     "--heartbeat-interval", "\(TestTime.seconds(0.2))"], model: model) { service in
            let observer = try client(Self.polite, service)
            do {
                try await orphanThenReconnect(service, observer, model: model)
            } catch {
                await observer.close()
                throw error
            }
            await observer.close()
        }
    }

    func orphanThenReconnect(_ service: TestService, _ observer: ServiceClient, model: String) async throws {
        let dropped = try client(Self.greedy, service)
        let orphans = [try await startGenerate(dropped, id: "orphan-a"), try await startGenerate(dropped, id: "orphan-b")]
        #expect(orphans.allSatisfy { isQueued($0.1) }, "\(orphans.map(\.1))")
        await dropped.close()
        withExtendedLifetime(orphans) {}
        // The scheduler saw the calls end (only this Stats call runs), and both runs wait on for a retry.
        let stats = try await eventually(within: .seconds(30), { try await observer.stats(.scheduler) }, until: { $0.callsInFlight == 1 })
        #expect(stats.callsInFlight == 1 && stats[extra: "active_requests"] == 2, "\(stats)")

        // Reconnected, the key still holds its 2 waiting slots: new requests are refused.
        let again = try client(Self.greedy, service)
        for id in ["fresh-1", "fresh-2"] {
            let refused = await refusal { _ = try await startGenerate(again, id: id) }
            #expect(refused?.code == .resourceExhausted && refused?.message.contains("API key 'greedy' already has 2 Generates waiting") == true
                    && refused?.message.contains("--max-queued-per-client") == true, "\(id): \(String(describing: refused))")
        }
        #expect(try await observer.stats(.scheduler)[extra: "generate_refused_client_queued"] == 2)

        // A retry of an orphan attaches to its run (its events from the first), taking no slot of its own.
        let attached = try await startGenerate(again, id: "orphan-a")
        var retried = attached.0
        #expect(isQueued(attached.1), "\(String(describing: attached.1))")
        #expect(try await observer.stats(.scheduler)[extra: "active_requests"] == 2)

        // Cancelling the other orphan frees exactly one slot: one new request is taken, the next refused.
        let cancelled = try await again.call(Methods.Scheduler.cancel.name, CancelRequest(requestID: "orphan-b"), as: CancelResponse.self)
        #expect(cancelled.found)
        let taken = try await eventually({ await refusal { _ = try await startGenerate(again, id: "fresh-3") } }, until: { $0 == nil })
        #expect(taken == nil, "\(String(describing: taken))")
        var kept = try await startGenerate(again, id: "fresh-3").0   // attaches to the run just taken: no slot
        let overLimit = await refusal { _ = try await startGenerate(again, id: "fresh-4") }
        #expect(overLimit?.code == .resourceExhausted, "\(String(describing: overLimit))")

        // With a worker the retried orphan runs to its result, on the retrying stream.
        let worker = try await LatticeTesting.start(.worker, arguments: ["--scheduler", service.address, "--model", model, "--worker-id", "w1"])
        do {
            let finished = try await finish(&retried)
            #expect(finished?.reason == .maxTokens || finished?.reason == .stop, "\(String(describing: finished))")
            #expect((finished?.generatedTokens ?? 0) >= 1, "\(String(describing: finished))")
            #expect(try await finish(&kept) != nil)
        } catch {
            await worker.stop()
            throw error
        }
        await worker.stop()
        await again.close()
    }

    @Test func anotherKeyCanNeitherCancelNorAttachToARun() async throws {
        try await withKeyedScheduler([]) { service in
            let owner = try client(Self.greedy, service), other = try client(Self.polite, service)
            var (events, first) = try await startGenerate(owner, id: "greedy-run")
            #expect(isQueued(first), "\(String(describing: first))")
            let cancel = CancelRequest(requestID: "greedy-run")
            #expect(try await other.call(Methods.Scheduler.cancel.name, cancel, as: CancelResponse.self).found == false)
            let attached = await refusal { _ = try await startGenerate(other, id: "greedy-run") }
            #expect(attached?.code == .permissionDenied && attached?.message.contains("started by another API key") == true,
                    "\(String(describing: attached))")
            // The run went on untouched: its own key cancels it, and its stream finishes CANCELLED.
            #expect(try await owner.call(Methods.Scheduler.cancel.name, cancel, as: CancelResponse.self).found)
            let finished = try await finish(&events)
            #expect(finished?.reason == .cancelled, "\(String(describing: finished))")
            await owner.close()
            await other.close()
        }
    }

    /// Reads a Generate stream to its finish.
    func finish(_ events: inout AsyncThrowingStream<GenerateEvent, Error>.AsyncIterator) async throws -> GenerateFinished? {
        while let event = try await events.next() {
            if case .finished(let done)? = event.event { return done }
        }
        return nil
    }
}
