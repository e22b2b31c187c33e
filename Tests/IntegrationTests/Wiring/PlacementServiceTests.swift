import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// placement/Plan, Simulate and Score against a real placement-service process.
    @Suite(.timeLimit(.minutes(TestTime.minutes(2))))
    struct PlacementServiceTests {
        func cluster(_ name: String) throws -> Cluster {
            Cluster(name: name, fileText: try WiringFixtures.text("helix/clusters/\(name).ini"), fileFormat: .helixIni)
        }

        func withPlacement(_ body: (TestService, ServiceClient) async throws -> Void) async throws {
            try await LatticeTesting.withService(.placement, environment: WiringFixtures.environment) { service in
                let client = service.client()
                do { try await body(service, client) } catch {
                    await client.close()
                    throw error
                }
                await client.close()
            }
        }

        @Test func planStreamsProgressThenAPlacementThatScoresTheSame() async throws {
            try await withPlacement { _, client in
                // The flow objective: its result must score the same as the layout alone.
                let request = PlanRequest(cluster: try cluster("single24"), model: ModelSpec(name: "llama2-70b"), method: .auto, budgetSeconds: 3, seed: 1,
                                          objective: .flow)
                var progress: [PlanProgress] = []
                var result: PlanResult?
                let started = ContinuousClock.now
                for try await event in client.stream(Methods.Placement.plan.name, request, as: PlanEvent.self, deadline: TestTime.scaled(.seconds(60))) {
                    switch event.event {
                    case .progress(let p)?:
                        #expect(result == nil, "progress after the result")
                        progress.append(p)
                    case .result(let r)?: result = r
                    case nil: Issue.record("an empty event")
                    }
                }
                #expect(ContinuousClock.now - started < .seconds(3) + TestTime.scaled(.seconds(12)), "the 3 s budget was not honoured")
                let plan = try #require(result)
                #expect(!progress.isEmpty)
                #expect(progress.allSatisfy { $0.bestObjective >= 0 && $0.bound >= $0.bestObjective - 1e-6 && !$0.phase.isEmpty })
                #expect(plan.objectiveTokensPerSecond > 0)
                #expect(plan.upperBoundTokensPerSecond >= plan.objectiveTokensPerSecond - 1e-6)
                #expect(plan.placement.allSatisfy { $0.start < $0.end && $0.end <= 80 && $0.nodeName == "node-\($0.node)" })
                #expect(plan.flows.contains { $0.fromNode == "source" && $0.tokensPerSecond > 0 })
                #expect(plan.flows.allSatisfy { $0.tokensPerSecond <= $0.capacityTokensPerSecond + 1e-6 })
                let stats = try #require(plan.stats)
                #expect(stats.methodUsed == "auto" && !stats.stopReason.isEmpty && stats.solveSeconds <= 3 + TestTime.seconds(2))

                // The published Helix MILP layout scores 1289.56; ours must beat it. Judged after
                // counted work (max_evaluations), not wall time, so a loaded or instrumented machine plans the same.
                var bounded = request
                bounded.maxEvaluations = 200
                var boundedResult: PlanResult?
                for try await event in client.stream(Methods.Placement.plan.name, bounded, as: PlanEvent.self, deadline: TestTime.scaled(.seconds(60))) {
                    if case .result(let r)? = event.event { boundedResult = r }
                }
                #expect(try #require(boundedResult).objectiveTokensPerSecond > 1289.56)

                // Score the returned placement alone: the same objective.
                let score = try await client.call(Methods.Placement.score.name,
                                                  ScoreRequest(cluster: try cluster("single24"), model: ModelSpec(name: "llama2-70b"), layout: Layout(ranges: plan.placement)),
                                                  as: ScoreResponse.self, deadline: TestTime.scaled(.seconds(30)))
                #expect(abs(score.objectiveTokensPerSecond - plan.objectiveTokensPerSecond) < 1e-6 * plan.objectiveTokensPerSecond)
                #expect(score.placement == plan.placement)
            }
        }

        @Test func scoreOfThePublishedLayoutFileIsThePublishedObjective() async throws {
            try await withPlacement { _, client in
                let layout = Layout(fileText: try WiringFixtures.text("helix/layouts/single24_helix_milp.ini"))
                let score = try await client.call(Methods.Placement.score.name,
                                                  ScoreRequest(cluster: try cluster("single24"), model: ModelSpec(name: "llama2-70b"), layout: layout),
                                                  as: ScoreResponse.self, deadline: TestTime.scaled(.seconds(30)))
                #expect(abs(score.objectiveTokensPerSecond - 1289.56) < 0.05)
            }
        }

        @Test func simulateAnswersForAGivenLayout() async throws {
            try await withPlacement { _, client in
                let layout = Layout(fileText: try WiringFixtures.text("helix/layouts/single24_helix_milp.ini"))
                let request = SimulateRequest(cluster: try cluster("single24"), model: ModelSpec(name: "llama2-70b"), layout: layout,
                                              mode: .offline, warmupSeconds: 5, durationSeconds: 10, seed: 1)
                let answer = try await client.call(Methods.Placement.simulate.name, request, as: SimulateResponse.self, deadline: TestTime.scaled(.seconds(60)))
                #expect(answer.decodeTokensPerSecond > 0)
                #expect(answer.simulatedSeconds >= 10)
                #expect(answer.layout?.ranges.isEmpty == false)
                #expect((answer.decodeLatency?.p50Seconds ?? 0) > 0)
            }
        }

        /// What the scheduler sends: structured nodes (CPU workers, no GPU profile), a full mesh,
        /// and the model as config.json text.
        @Test func structuredCPUClusterWithAConfigModel() async throws {
            try await withPlacement { _, client in
                let names = ["w1", "w2", "w3"]
                var links: [ClusterLink] = []
                for (i, a) in names.enumerated() {
                    links.append(ClusterLink(fromNode: "source", toNode: a, bandwidthBytesPerSecond: 1e9))
                    links.append(ClusterLink(fromNode: a, toNode: "sink", bandwidthBytesPerSecond: 1e9))
                    for b in names[(i + 1)...] { links.append(ClusterLink(fromNode: a, toNode: b, bandwidthBytesPerSecond: 1e9)) }
                }
                let config = #"{"num_hidden_layers": 6, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "vocab_size": 256}"#
                let request = PlanRequest(cluster: Cluster(name: "live", nodes: names.map { ClusterNode(name: $0, gpuType: "CPU", gpuCount: 1) }, links: links),
                                          model: ModelSpec(name: "tiny", configJSON: config), method: .auto, budgetSeconds: 2, seed: 1, variant: .strict)
                var result: PlanResult?
                for try await event in client.stream(Methods.Placement.plan.name, request, as: PlanEvent.self, deadline: TestTime.scaled(.seconds(30))) {
                    if case .result(let r)? = event.event { result = r }
                }
                let plan = try #require(result)
                #expect(plan.objectiveTokensPerSecond > 0)
                #expect(Set(plan.placement.map(\.nodeName)).isSubset(of: Set(names)))
                #expect(plan.placement.contains { $0.start == 0 } && plan.placement.contains { $0.end == 6 })
                #expect(plan.flows.contains { $0.fromNode == "source" && names.contains($0.toNode) })
            }
        }

        /// Workers that timed themselves, as the scheduler forwards them: a worker twice as fast per
        /// layer gets twice the layers. 30 layers, at most 24 each (no replicas): only 20 + 10
        /// balances 2 / k against 1 / (30 - k); an even 15 + 15 leaves the fast one idle half the time.
        @Test func measuredProfilesGiveTheFasterWorkerMoreLayers() async throws {
            try await withPlacement { _, client in
                func profile(_ scale: Double) -> MeasuredProfile {
                    MeasuredProfile(prompt: [LatencyPoint(tokens: 8, seconds: 2e-4 * scale), LatencyPoint(tokens: 32, seconds: 6e-4 * scale)],
                                    decode: [LatencyPoint(tokens: 1, seconds: 1e-4 * scale), LatencyPoint(tokens: 4, seconds: 1.5e-4 * scale)],
                                    maxLayers: 24, kvCapacityEntries: 4096 * 24)
                }
                // The slow worker first, so that node order cannot be what puts the fast one ahead.
                let nodes = [ClusterNode(name: "slow", gpuType: "CPU", gpuCount: 1, measured: profile(2)),
                             ClusterNode(name: "fast", gpuType: "CPU", gpuCount: 1, measured: profile(1))]
                var links: [ClusterLink] = []
                for node in nodes {
                    links.append(ClusterLink(fromNode: "source", toNode: node.name, bandwidthBytesPerSecond: 1e9))
                    links.append(ClusterLink(fromNode: node.name, toNode: "sink", bandwidthBytesPerSecond: 1e9))
                }
                links.append(ClusterLink(fromNode: "slow", toNode: "fast", bandwidthBytesPerSecond: 1e9))
                let config = #"{"num_hidden_layers": 30, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "vocab_size": 256}"#
                let request = PlanRequest(cluster: Cluster(name: "live", nodes: nodes, links: links), model: ModelSpec(name: "tiny", configJSON: config),
                                          method: .auto, budgetSeconds: 2, seed: 1, variant: .strict, maxEvaluations: 40)   // work-bounded: the same plan on any machine
                var result: PlanResult?
                for try await event in client.stream(Methods.Placement.plan.name, request, as: PlanEvent.self, deadline: TestTime.scaled(.seconds(30))) {
                    if case .result(let r)? = event.event { result = r }
                }
                let plan = try #require(result)
                let layers = Dictionary(plan.placement.map { ($0.nodeName, Int($0.end) - Int($0.start)) }, uniquingKeysWith: +)
                #expect(layers == ["fast": 20, "slow": 10], "\(plan.placement)")
            }
        }

        /// geo24's links bind, so its solve runs the whole budget: a deadline shortens it, a cancel stops it.
        @Test func deadlineShortensAndCancelStopsALongPlan() async throws {
            try await withPlacement { service, client in
                func plan(_ request: PlanRequest, deadline: Duration) async throws -> PlanResult? {
                    var result: PlanResult?
                    for try await event in client.stream(Methods.Placement.plan.name, request, as: PlanEvent.self, deadline: deadline) {
                        if case .result(let r)? = event.event { result = r }
                    }
                    return result
                }
                var request = PlanRequest(cluster: try cluster("geo24"), model: ModelSpec(name: "llama2-70b"), method: .heuristic, budgetSeconds: 0.05, seed: 1)
                // The service keeps a tenth of the deadline (and 0.2 s) for the work around the solve.
                // A loaded machine slows that work down, so the deadline is 20 times what a whole
                // call with a token budget takes now, and at least 4 s: far under the budget either way.
                let probe = ContinuousClock.now
                _ = try await plan(request, deadline: TestTime.scaled(.seconds(30)))
                let deadline = max(TestTime.scaled(.seconds(4)), (ContinuousClock.now - probe) * 20)
                request.budgetSeconds = 300
                let started = ContinuousClock.now
                let result = try await plan(request, deadline: deadline)
                #expect(ContinuousClock.now - started < deadline)
                #expect(try #require(result).objectiveTokensPerSecond > 0)

                request.method = .auto
                let call = Task { [request] in
                    for try await _ in client.stream(Methods.Placement.plan.name, request, as: PlanEvent.self) {}
                }
                // Working before the cancel: the solve has started, and accrues 0.3 CPU s (a loaded
                // machine may take a while to give it that; the 300 s budget is far off either way).
                let solving = try await eventually(within: .seconds(20)) { try await client.stats(.placement) } until: { $0[extra: "solves_running"] == 1 }
                try #require(solving[extra: "solves_running"] == 1, "the solve did not start")
                let busy = try await WiringFixtures.cpuUse(of: service.pid, reaching: 0.3, within: .seconds(30))
                #expect(busy >= 0.3, "the solver was not working before the cancel (\(busy) CPU s)")
                call.cancel()
                _ = try? await call.value
                // The solver polls its flag between steps: its job ends, then the service is idle.
                let running = try await WiringFixtures.jobsRunning("solves", .placement, client: client, settlingWithin: .seconds(20))
                #expect(running == 0, "the solve was still running 20 s after the cancel")
                let idle = try await WiringFixtures.cpuUse(of: service.pid, over: .seconds(1))
                #expect(idle < 0.1, "the service kept solving after the cancel (\(idle) CPU s in 1 s)")
            }
        }

        func expectInvalid(_ client: ServiceClient, _ request: PlanRequest, mentioning words: [String]) async throws {
            do {
                for try await _ in client.stream(Methods.Placement.plan.name, request, as: PlanEvent.self, deadline: TestTime.scaled(.seconds(30))) {}
                Issue.record("expected INVALID_ARGUMENT mentioning \(words)")
            } catch let status as Status {
                #expect(status.code == .invalidArgument, "\(status)")
                for word in words { #expect(status.message.contains(word), "'\(status.message)' does not mention '\(word)'") }
            }
        }

        @Test func badClusterInputIsInvalidArgumentNamingTheField() async throws {
            try await withPlacement { _, client in
                let model = ModelSpec(name: "llama2-70b")
                let single24 = try WiringFixtures.text("helix/clusters/single24.ini")
                let badType = single24.replacingOccurrences(of: "type=A100", with: "type=H100")
                try #require(badType != single24)
                try await expectInvalid(client, PlanRequest(cluster: Cluster(name: "bad", fileText: badType, fileFormat: .helixIni), model: model),
                                        mentioning: ["cluster.file_text", "ComputeNode-", "type", "H100"])
                let badBandwidth = single24.replacingOccurrences(of: "* mbps", with: "* furlongs")
                try await expectInvalid(client, PlanRequest(cluster: Cluster(name: "bad", fileText: badBandwidth, fileFormat: .helixIni), model: model),
                                        mentioning: ["Link-", "bandwidth"])
                try await expectInvalid(client, PlanRequest(cluster: Cluster(name: "bad", fileText: "{\"nodes\": 3}", fileFormat: .json), model: model),
                                        mentioning: ["nodes"])
                let nodes = [ClusterNode(name: "a", gpuType: "L4"), ClusterNode(name: "b", gpuType: "TPU")]
                try await expectInvalid(client, PlanRequest(cluster: Cluster(nodes: nodes, links: []), model: model),
                                        mentioning: ["cluster.nodes[1].gpu_type", "TPU"])
                let linked = Cluster(nodes: [ClusterNode(name: "a", gpuType: "A100-40G")], links: [ClusterLink(fromNode: "source", toNode: "z", bandwidthBytesPerSecond: 1e9)])
                try await expectInvalid(client, PlanRequest(cluster: linked, model: model), mentioning: ["cluster.links[0].to_node", "'z'"])
                try await expectInvalid(client, PlanRequest(cluster: try cluster("single24"), model: ModelSpec(name: "gpt-9")), mentioning: ["model", "gpt-9"])
                let stats = try await client.stats(.placement)
                #expect(stats.extra.first { $0.name == "invalid_requests" }?.value == 6)
                #expect(stats.extra.first { $0.name == "plans" }?.value == 0)
            }
        }
    }
}
