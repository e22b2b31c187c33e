import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// Issue 12's per-client limits against a real scheduler process on loopback. A client is
    /// its API key: two connections of one key share its limits, another key has its own.
    /// With no workers every Generate waits in the admission queue (for a plan), so the
    /// Generates a test starts stay queued and running until it drops them.
    @Suite(.timeLimit(.minutes(TestTime.minutes(2))))
    struct ClientLimitsTests {
        static let greedy = "greedy.0123456789abcdef0123456789"
        static let polite = "polite.0123456789abcdef0123456789"

        /// A scheduler with no workers that accepts both keys, started with `arguments`, serving
        /// `model` (default: a new tiny one).
        func withKeyedScheduler(_ arguments: [String], model: String? = nil, _ body: (TestService) async throws -> Void) async throws {
            let directory = LatticeTesting.temporaryDirectory("client-limits")
            let keys = "\(directory)/api.keys"
            try "\(Self.greedy)\n\(Self.polite)\n".write(toFile: keys, atomically: true, encoding: .utf8)
            let model = try model ?? LatticeCLI.tinyModel(layers: 2)
            try await LatticeTesting.withService(.scheduler, arguments: ["--model", model, "--no-plan-wait", "\(TestTime.seconds(60))"] + arguments,
                                                 environment: ["LATTICE_API_KEYS_FILE": keys], body)
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// A new connection that proves `token`.
        func client(_ token: String, _ service: TestService) throws -> ServiceClient {
            var config = TransportConfig()
            config.credentials = try Credentials.apiKey(token)
            return ServiceClient(host: service.host, port: service.port, config: config, reconnect: .never)
        }

        /// Starts a Generate and returns its stream once its first event came (kept: the call
        /// runs until the iterator is dropped), with that event.
        func startGenerate(_ client: ServiceClient, maxTokens: UInt32 = 4) async throws
            -> (AsyncThrowingStream<GenerateEvent, Error>.AsyncIterator, GenerateEvent?) {
            var events = client.stream(Methods.Scheduler.generate.name, GenerateRequest(promptTokenIDs: [1, 2], maxTokens: maxTokens),
                                       as: GenerateEvent.self).makeAsyncIterator()
            let first = try await events.next()
            return (events, first)
        }

        func refusal(_ body: () async throws -> Void) async -> Status? {
            do { try await body(); return nil } catch let status as Status { return status } catch { return Status(.unknown, "\(error)") }
        }

        func clusterStatus(_ client: ServiceClient) async throws -> ClusterStatusResponse {
            try await client.call(Methods.Scheduler.clusterStatus.name, ClusterStatusRequest(), as: ClusterStatusResponse.self)
        }

        func isQueued(_ event: GenerateEvent?) -> Bool {
            if case .queued? = event?.event { return true }
            return false
        }

        @Test func aClientPastItsQueuedLimitIsRefusedWhileAnotherIsStillServed() async throws {
            try await withKeyedScheduler(["--max-queued-per-client", "2", "--max-tokens-per-request", "64"]) { service in
                // One key, two connections: its two queued Generates fill its share.
                let first = try client(Self.greedy, service), second = try client(Self.greedy, service)
                let held = [try await startGenerate(first), try await startGenerate(second)]
                #expect(held.allSatisfy { isQueued($0.1) }, "\(held.map(\.1))")
                let refused = await refusal { _ = try await startGenerate(second) }
                #expect(refused?.code == .resourceExhausted, "\(String(describing: refused))")
                #expect(refused?.message.contains("API key 'greedy' already has 2 Generates waiting") == true
                        && refused?.message.contains("--max-queued-per-client") == true, "\(String(describing: refused))")
                // Another key is still taken into the queue, and its over-long request is refused
                // for tokens, not for the other client's queue.
                let other = try client(Self.polite, service)
                let (kept, event) = try await startGenerate(other)
                #expect(isQueued(event), "\(String(describing: event))")
                let tooLong = await refusal { _ = try await startGenerate(other, maxTokens: 63) }
                #expect(tooLong?.code == .resourceExhausted && tooLong?.message.contains("over the 64 tokens") == true
                        && tooLong?.message.contains("--max-tokens-per-request") == true, "\(String(describing: tooLong))")
                let stats = try await other.stats(.scheduler)
                #expect(stats[extra: "generate_refused_client_queued"] == 1)
                #expect(stats[extra: "generate_refused_tokens"] == 1)
                withExtendedLifetime((held, kept)) {}   // the queued calls ran until here
                for connection in [first, second, other] { await connection.close() }
                // Their calls ended: the key's share is free again.
                let again = try client(Self.greedy, service)
                let retaken = try await eventually({ await refusal { _ = try await startGenerate(again) } }, until: { $0 == nil })
                #expect(retaken == nil, "\(String(describing: retaken))")
                await again.close()
            }
        }

        /// A Generate past the queue (its first token came) no longer counts against its client's
        /// waiting limit, even while its stream is still open.
        @Test func aGenerateGivesItsWaitingSlotBackAtItsFirstToken() async throws {
            let directory = LatticeTesting.temporaryDirectory("client-limits")
            let keys = "\(directory)/api.keys"
            try "\(Self.greedy)\n".write(toFile: keys, atomically: true, encoding: .utf8)
            let model = try LatticeCLI.tinyModel(layers: 2)
            try await LatticeTesting.withService(.scheduler, arguments: ["--model", model, "--max-queued-per-client", "1", "--heartbeat-interval", "\(TestTime.seconds(0.2))"],
                                                 environment: ["LATTICE_API_KEYS_FILE": keys]) { service in
                let worker = try await LatticeTesting.start(.worker, arguments: ["--scheduler", service.address, "--model", model, "--worker-id", "w1"])
                let observer = service.client()
                do {
                    try await firstTokenFreesTheSlot(service, observer)
                } catch {
                    await observer.close()
                    await worker.stop()
                    throw error
                }
                await observer.close()
                await worker.stop()
            }
            try? FileManager.default.removeItem(atPath: directory)
        }

        func firstTokenFreesTheSlot(_ service: TestService, _ observer: ServiceClient) async throws {
            let serving = try await eventually(within: .seconds(30), { try await clusterStatus(observer).workers }, until: { $0.count == 1 && $0[0].health == .serving && ($0[0].layers?.end ?? 0) > ($0[0].layers?.start ?? 0) })
            #expect(serving.first?.health == .serving)
            // A small window: once a few events wait unread, the scheduler's sends (and so its call) stall.
            var stalling = TransportConfig()
            stalling.credentials = try Credentials.apiKey(Self.greedy)
            stalling.streamWindowBytes = 64
            let first = ServiceClient(host: service.host, port: service.port, config: stalling, reconnect: .never)
            var events = first.stream(Methods.Scheduler.generate.name, GenerateRequest(promptTokenIDs: [1, 2], maxTokens: 200), as: GenerateEvent.self).makeAsyncIterator()
            var firstToken: GenerateEvent?
            while let event = try await events.next() {
                if case .token? = event.event { firstToken = event; break }
            }
            #expect(firstToken != nil)
            let stats = try await first.stats(.scheduler)
            #expect(stats.callsInFlight >= 2, "the first Generate is still running (and this Stats call)")
            let second = try client(Self.greedy, service)
            let (kept, event) = try await startGenerate(second)
            #expect(event != nil)
            #expect(try await second.stats(.scheduler)[extra: "generate_refused_client_queued"] == 0)
            withExtendedLifetime((events, kept)) {}
            await first.close()
            await second.close()
        }

        @Test func oneKeysConcurrentCallsAreLimitedAcrossItsConnections() async throws {
            try await withKeyedScheduler(["--max-calls-per-client", "2"]) { service in
                let first = try client(Self.greedy, service), second = try client(Self.greedy, service)
                let held = [try await startGenerate(first), try await startGenerate(second)]
                #expect(held.allSatisfy { isQueued($0.1) })
                // Any third call of the key, on either connection, is refused while two run.
                let refused = await refusal { _ = try await clusterStatus(first) }
                #expect(refused?.code == .resourceExhausted && refused?.message.contains("API key 'greedy' already has 2 calls running") == true
                        && refused?.message.contains("--max-calls-per-client") == true, "\(String(describing: refused))")
                // Another key is served.
                let other = try client(Self.polite, service)
                #expect(try await clusterStatus(other).workers.isEmpty)
                let stats = try await other.stats(.scheduler)
                #expect(stats[extra: "calls_over_client_limit"] == 1)
                withExtendedLifetime(held) {}
                for connection in [first, second, other] { await connection.close() }
            }
        }

        @Test func oneClientRunsAtMostItsShareOfPlacementSolves() async throws {
            let directory = LatticeTesting.temporaryDirectory("client-jobs")
            let keys = "\(directory)/api.keys"
            try "\(Self.greedy)\n\(Self.polite)\n".write(toFile: keys, atomically: true, encoding: .utf8)
            let environment = WiringFixtures.environment.merging(["LATTICE_API_KEYS_FILE": keys]) { _, key in key }
            try await LatticeTesting.withService(.placement, arguments: ["--max-jobs", "4", "--max-jobs-per-client", "1"], environment: environment) { service in
                let cluster = Cluster(name: "geo24", fileText: try WiringFixtures.text("helix/clusters/geo24.ini"), fileFormat: .helixIni)
                let long = PlanRequest(cluster: cluster, model: ModelSpec(name: "llama2-70b"), method: .milp, budgetSeconds: 20, seed: 1)
                let first = try client(Self.greedy, service), second = try client(Self.greedy, service)
                let running = Task { await refusal { for try await _ in first.stream(Methods.Placement.plan.name, long, as: PlanEvent.self) {} } }
                let observer = try client(Self.polite, service)
                let started = try await eventually({ try await observer.stats(.placement)[extra: "solves_running"] }, until: { $0 == 1 })
                #expect(started == 1)
                // The key's second solve, on another connection, is over its share though the pool has room.
                let refused = await refusal { for try await _ in second.stream(Methods.Placement.plan.name, long, as: PlanEvent.self) {} }
                #expect(refused?.code == .resourceExhausted && refused?.message.contains("API key 'greedy' already has 1 solves running") == true
                        && refused?.message.contains("--max-jobs-per-client") == true, "\(String(describing: refused))")
                // Another client's solve runs to its result meanwhile.
                var quick = long
                quick.method = .heuristic
                quick.budgetSeconds = 1
                var result: PlanResult?
                for try await event in observer.stream(Methods.Placement.plan.name, quick, as: PlanEvent.self) {
                    if case .result(let done)? = event.event { result = done }
                }
                #expect(result != nil)
                let stats = try await observer.stats(.placement)
                #expect(stats[extra: "solves_refused_client"] == 1 && stats[extra: "solves_refused"] == 0)
                running.cancel()
                _ = await running.value
                for connection in [first, second, observer] { await connection.close() }
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}
