import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// circuit/Optimize against a real circuit-optimizer-service process.
    @Suite(.timeLimit(.minutes(TestTime.minutes(2))))
    struct CircuitServiceTests {
        func withOptimizer(_ body: (TestService, ServiceClient) async throws -> Void) async throws {
            try await LatticeTesting.withService(.circuit, environment: WiringFixtures.environment) { service in
                let client = service.client()
                do { try await body(service, client) } catch {
                    await client.close()
                    throw error
                }
                await client.close()
            }
        }

        /// One Optimize to its end; `deadline` is scaled by TestTime.
        func run(_ client: ServiceClient, _ request: OptimizeRequest, deadline: Duration = .seconds(60)) async throws -> ([OptimizeProgress], OptimizeResult?) {
            var progress: [OptimizeProgress] = []
            var result: OptimizeResult?
            for try await event in client.stream(Methods.Circuit.optimize.name, request, as: OptimizeEvent.self, deadline: TestTime.scaled(deadline)) {
                switch event.event {
                case .progress(let p)?:
                    #expect(result == nil, "progress after the result")
                    progress.append(p)
                case .result(let r)?: result = r
                case nil: Issue.record("an empty event")
                }
            }
            return (progress, result)
        }

        @Test func optimizeStreamsProgressAndReturnsAVerifiedSmallerCircuit() async throws {
            try await withOptimizer { _, client in
                let qasm = try WiringFixtures.text("circuits/nam/tof_3.qasm")
                let (progress, result) = try await run(client, OptimizeRequest(qasm: qasm, gateSet: .nam, cost: .gates, budgetSeconds: 2))
                let optimized = try #require(result)
                #expect(!progress.isEmpty)
                #expect(progress.allSatisfy { $0.bestCost > 0 && !$0.phase.isEmpty })
                #expect(optimized.verdict == .verifiedExact, "\(optimized.verdictDetail)")
                #expect(optimized.costAfter < optimized.costBefore)
                #expect(optimized.qubits == 5)
                #expect(Set(optimized.countsAfter.map(\.gate)).isSubset(of: ["h", "x", "rz", "cx"]))
                #expect(optimized.countsBefore.contains { $0.gate == "ccz" })
                #expect(optimized.qasm.hasPrefix("OPENQASM 2.0;"))
                #expect(optimized.seconds < 2 + TestTime.seconds(2), "the 2 s budget was not honoured")   // slack for verification
                // The answer is itself valid input: optimizing it again keeps it verified.
                let (_, again) = try await run(client, OptimizeRequest(qasm: optimized.qasm, budgetSeconds: 0))
                #expect(try #require(again).costAfter <= optimized.costAfter)
                let stats = try await client.stats(.circuit)
                #expect(stats.extra.first { $0.name == "optimizations" }?.value == 2)
                #expect((stats.extra.first { $0.name == "gates_removed" }?.value ?? 0) >= optimized.costBefore - optimized.costAfter)
            }
        }

        /// The learned method with the shipped checkpoint, over the wire.
        @Test func learnedMethodReturnsAVerifiedSmallerCircuit() async throws {
            try await withOptimizer { _, client in
                let qasm = try WiringFixtures.text("circuits/nam/tof_3.qasm")
                let (progress, result) = try await run(client, OptimizeRequest(qasm: qasm, gateSet: .nam, cost: .gates, budgetSeconds: 2, method: "learned"))
                let optimized = try #require(result)
                #expect(optimized.methodUsed == "learned")
                #expect(optimized.verdict == .verifiedExact, "\(optimized.verdictDetail)")
                #expect(optimized.costAfter < optimized.costBefore)
                #expect(progress.contains { $0.phase == "done" })
            }
        }

        @Test func malformedQASMIsInvalidArgumentWithLineAndColumn() async throws {
            try await withOptimizer { _, client in
                let bad = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncx q[0],q[;\n"
                do {
                    _ = try await run(client, OptimizeRequest(qasm: bad, budgetSeconds: 1))
                    Issue.record("expected INVALID_ARGUMENT")
                } catch let status as Status {
                    #expect(status.code == .invalidArgument)
                    #expect(status.message.contains("line 4, column 11"), "\(status.message)")
                }
                do {
                    _ = try await run(client, OptimizeRequest(qasm: "OPENQASM 2.0;\nqreg q[1];\nh q[0];\n", budgetSeconds: 1, method: "magic"))
                    Issue.record("expected INVALID_ARGUMENT")
                } catch let status as Status {
                    #expect(status.code == .invalidArgument && status.message.contains("method"), "\(status)")
                }
            }
        }

        /// A client cancel ends a 60-second optimization at once: the service stops using CPU.
        @Test func clientCancelStopsALongOptimizePromptly() async throws {
            try await withOptimizer { service, client in
                let qasm = try WiringFixtures.text("circuits/nam/gf2^16_mult.qasm")
                let call = Task {
                    var items = 0
                    for try await _ in client.stream(Methods.Circuit.optimize.name, OptimizeRequest(qasm: qasm, budgetSeconds: 60), as: OptimizeEvent.self) {
                        items += 1
                    }
                    return items
                }
                // Working before the cancel: it accrues 0.3 CPU s (a loaded machine may take a while to give it that).
                let busy = try await WiringFixtures.cpuUse(of: service.pid, reaching: 0.3, within: .seconds(15))
                #expect(busy >= 0.3, "the optimizer was not working before the cancel (\(busy) CPU s)")
                call.cancel()
                _ = try? await call.value
                // The optimizer polls its flag between steps: its job ends, then the service is idle.
                let running = try await WiringFixtures.jobsRunning("optimizations", .circuit, client: client, settlingWithin: .seconds(10))
                #expect(running == 0, "the optimization was still running 10 s after the cancel")
                let idle = try await WiringFixtures.cpuUse(of: service.pid, over: .seconds(1))
                #expect(idle < 0.1, "the service kept computing after the cancel (\(idle) CPU s in 1 s)")
                // And it still serves.
                let (_, result) = try await run(client, OptimizeRequest(qasm: "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[1];\nh q[0];\nh q[0];\n", budgetSeconds: 1))
                #expect(try #require(result).costAfter == 0)
            }
        }

        /// A deadline shorter than the budget: the budget shrinks so that the answer arrives in time.
        @Test func deadlineShorterThanTheBudgetStillGetsAResult() async throws {
            try await withOptimizer { _, client in
                let qasm = try WiringFixtures.text("circuits/nam/barenco_tof_10.qasm")
                // `run` scales the 4 s deadline by TestTime: well under the budget at any scale.
                let (_, result) = try await run(client, OptimizeRequest(qasm: qasm, budgetSeconds: 60), deadline: .seconds(4))
                let optimized = try #require(result)
                #expect(optimized.seconds < TestTime.seconds(4))
                #expect(optimized.costAfter < optimized.costBefore)
            }
        }
    }
}
