import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// Issue 12's limits against real services: each is RESOURCE_EXHAUSTED with a clear message
    /// and counted in Stats.
    @Suite(.timeLimit(.minutes(TestTime.minutes(2))))
    struct LimitsTests {
        static func status(_ body: () async throws -> Void) async -> Status? {
            do { try await body(); return nil } catch let status as Status { return status } catch { return Status(.unknown, "\(error)") }
        }

        @Test func placementRunsAtMostMaxJobsSolvesAndRefusesTheRest() async throws {
            try await LatticeTesting.withService(.placement, arguments: ["--max-jobs", "1"], environment: WiringFixtures.environment) { service in
                let client = service.client()
                let cluster = Cluster(name: "geo24", fileText: try WiringFixtures.text("helix/clusters/geo24.ini"), fileFormat: .helixIni)
                let long = PlanRequest(cluster: cluster, model: ModelSpec(name: "llama2-70b"), method: .milp, budgetSeconds: 20, seed: 1)
                // The first solve holds the only slot; wait until Stats shows it running.
                let first = Task { await Self.status { for try await _ in client.stream(Methods.Placement.plan.name, long, as: PlanEvent.self) {} } }
                let deadline = ContinuousClock.now + TestTime.scaled(.seconds(20))
                while try await service.client().stats(.placement)[extra: "solves_running"] != 1 && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let second = await Self.status { for try await _ in client.stream(Methods.Placement.plan.name, long, as: PlanEvent.self) {} }
                #expect(second?.code == .resourceExhausted && second?.message.contains("--max-jobs") == true, "\(String(describing: second))")
                let stats = try await service.client().stats(.placement)
                #expect(stats[extra: "solves_refused"] == 1)
                first.cancel()
                _ = await first.value
                await client.close()
            }
        }

        @Test func circuitsOverMaxGatesAreRefused() async throws {
            try await LatticeTesting.withService(.circuit, arguments: ["--max-gates", "3"], environment: WiringFixtures.environment) { service in
                let client = service.client()
                let qasm = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\nh q[0];\nh q[1];\nx q[1];\n"
                let refused = await Self.status {
                    for try await _ in client.stream(Methods.Circuit.optimize.name, OptimizeRequest(qasm: qasm), as: OptimizeEvent.self) {}
                }
                #expect(refused?.code == .resourceExhausted && refused?.message.contains("5 gates, over the 3") == true, "\(String(describing: refused))")
                let stats = try await client.stats(.circuit)
                #expect(stats[extra: "circuits_too_large"] == 1)
                await client.close()
            }
        }

        /// A budget over the cap is refused with the cap named, not silently cut to it; one within
        /// it still runs.
        @Test func budgetsOverTheCapAreRefusedNotClamped() async throws {
            try await LatticeTesting.withService(.placement, arguments: ["--max-budget-seconds", "5"], environment: WiringFixtures.environment) { service in
                let client = service.client()
                let cluster = Cluster(name: "single24", fileText: try WiringFixtures.text("helix/clusters/single24.ini"), fileFormat: .helixIni)
                let over = PlanRequest(cluster: cluster, model: ModelSpec(name: "llama2-70b"), method: .heuristic, budgetSeconds: 5.5, seed: 1)
                let refused = await Self.status { for try await _ in client.stream(Methods.Placement.plan.name, over, as: PlanEvent.self) {} }
                #expect(refused?.code == .resourceExhausted && refused?.message.contains("budget_seconds: 5.5 s is over the 5.0 s") == true,
                        "\(String(describing: refused))")
                var within = over
                within.budgetSeconds = 1
                var result: PlanResult?
                for try await event in client.stream(Methods.Placement.plan.name, within, as: PlanEvent.self) {
                    if case .result(let done)? = event.event { result = done }
                }
                #expect(result != nil)
                let stats = try await client.stats(.placement)
                #expect(stats[extra: "budgets_refused"] == 1)
                await client.close()
            }
            try await LatticeTesting.withService(.circuit, arguments: ["--max-budget-seconds", "2"], environment: WiringFixtures.environment) { service in
                let client = service.client()
                let qasm = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\nh q[0];\nh q[0];\n"
                let refused = await Self.status {
                    for try await _ in client.stream(Methods.Circuit.optimize.name, OptimizeRequest(qasm: qasm, budgetSeconds: 3), as: OptimizeEvent.self) {}
                }
                #expect(refused?.code == .resourceExhausted && refused?.message.contains("budget_seconds: 3.0 s is over the 2.0 s") == true,
                        "\(String(describing: refused))")
                let stats = try await client.stats(.circuit)
                #expect(stats[extra: "budgets_refused"] == 1)
                await client.close()
            }
        }

        @Test func generateOverTheTokenLimitIsRefusedBeforeQueueing() async throws {
            let model = try LatticeCLI.tinyModel(layers: 2)
            try await LatticeTesting.withService(.scheduler, arguments: ["--model", model, "--max-tokens-per-request", "16"]) { service in
                let client = service.client()
                let refused = await Self.status {
                    for try await _ in client.stream(Methods.Scheduler.generate.name, GenerateRequest(promptTokenIDs: [1, 2, 3], maxTokens: 14), as: GenerateEvent.self) {}
                }
                #expect(refused?.code == .resourceExhausted && refused?.message.contains("over the 16 tokens") == true, "\(String(describing: refused))")
                let stats = try await client.stats(.scheduler)
                #expect(stats[extra: "generate_refused_tokens"] == 1)
                await client.close()
            }
        }
    }
}
