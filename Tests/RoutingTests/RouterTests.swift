import Testing
@testable import Routing

/// Two ways through a 4-layer model: a [0,2) → c [2,4) and b [0,2) → d [2,4), or any mix.
private func diamond(flows: (a: Double, b: Double) = (3, 1), capacity: Double = 1e6, partial: Bool = false) -> FlowGraph {
    let nodes = [RoutingNode(name: "a", layers: 0..<2, kvCapacity: capacity), RoutingNode(name: "b", layers: 0..<2, kvCapacity: capacity),
                 RoutingNode(name: "c", layers: 2..<4, kvCapacity: capacity), RoutingNode(name: "d", layers: 2..<4, kvCapacity: capacity)]
    let arcs = [FlowArc(from: "source", to: "a", flow: flows.a), FlowArc(from: "source", to: "b", flow: flows.b),
                FlowArc(from: "a", to: "c", flow: flows.a), FlowArc(from: "b", to: "d", flow: flows.b),
                FlowArc(from: "c", to: "sink", flow: flows.a), FlowArc(from: "d", to: "sink", flow: flows.b)]
    return FlowGraph(nodes: nodes, arcs: arcs, layerCount: 4, partial: partial)
}

private func names(_ route: Route, _ graph: FlowGraph) -> [String] { route.nodes.map { graph.nodes[$0].name } }

@Suite struct RouterTests {
    @Test func iwrrSharesRequestsInProportionToFlow() throws {
        var router = Router(graph: diamond(flows: (3, 1)))
        var first: [String: Int] = [:]
        var order: [String] = []
        for _ in 0..<40 {
            let route = try router.route(prompt: 10, maxTokens: 5, reserved: { _ in 0 }).get()
            first[names(route, router.graph)[0], default: 0] += 1
            order.append(names(route, router.graph)[0])
        }
        #expect(first == ["a": 30, "b": 10])
        // Interleaved, not in blocks: load a = 10/3 per pick, b = 10 per pick, ties to the lower index.
        #expect(Array(order.prefix(4)) == ["a", "a", "a", "b"])
    }

    @Test func iwrrChooseMinimisesLoadPlusWeightOverFlow() throws {
        var router = Router(graph: diamond(flows: (2, 1)))
        // A 100-token prompt costs a 50 and b 100: a first.
        #expect(names(try router.route(prompt: 100, maxTokens: 1, reserved: { _ in 0 }).get(), router.graph) == ["a", "c"])
        #expect(router.loads[router.graph.source] == [50, 0])
        // Now a costs 50 + 50 = 100 and b 100: a tie goes to the lower index, a again; then b.
        _ = try router.route(prompt: 100, maxTokens: 1, reserved: { _ in 0 }).get()
        #expect(names(try router.route(prompt: 100, maxTokens: 1, reserved: { _ in 0 }).get(), router.graph) == ["b", "d"])
    }

    @Test func decodeStepsChargeOneTokenPerHop() throws {
        var router = Router(graph: diamond(flows: (4, 1)))
        let route = try router.route(prompt: 8, maxTokens: 5, reserved: { _ in 0 }).get()
        #expect(router.loads[router.graph.source] == [2, 0])
        router.chargeDecode(route)
        #expect(router.loads[router.graph.source] == [2.25, 0])
        let a = router.graph.index["a"]!
        #expect(router.loads[a] == [2.25])
    }

    @Test func arcsBelowFivePercentOfOutflowAreMasked() throws {
        let graph = diamond(flows: (100, 4))   // b carries 4/104 < 5%
        #expect(graph.successors[graph.source].map(\.node) == [graph.index["a"]!])
        var router = Router(graph: graph, policy: .random, seed: 3)
        for _ in 0..<20 { #expect(names(try router.route(prompt: 1, maxTokens: 1, reserved: { _ in 0 }).get(), graph) == ["a", "c"]) }
        #expect(diamond(flows: (100, 6)).successors[graph.source].count == 2)
    }

    @Test func kvEstimateMasksFullNodesAndReleaseReopensThem() throws {
        // Capacity 1000 entries, online hwm 0.9: 900 may be promised. 100 + 100 tokens × 2 layers = 400 each.
        var router = Router(graph: diamond(flows: (1, 1), capacity: 1000))
        var ledger = KVLedger<Int, Int>()
        for request in 0..<4 {
            let route = try router.route(prompt: 100, maxTokens: 100, reserved: { ledger.reserved(on: $0) }).get()
            ledger.reserve(request, Router.reservation(route))
        }
        let refused = router.route(prompt: 100, maxTokens: 100, reserved: { ledger.reserved(on: $0) })
        guard case .failure(.noCandidate(let after, let layer, let why)) = refused else { Issue.record("admitted: \(refused)"); return }
        #expect(after == "source" && layer == 0)
        #expect(why.contains("a has no KV room") && why.contains("b has no KV room"), "\(why)")
        ledger.release(0)
        #expect((try? router.route(prompt: 100, maxTokens: 100, reserved: { ledger.reserved(on: $0) }).get()) != nil)
    }

    @Test func helixEstimateAndBoundaries() {
        #expect(KVPolicy.online.expectedLength(prompt: 100, maxTokens: nil) == 100 + 240 * 0.6)
        #expect(KVPolicy.offline.expectedLength(prompt: 100, maxTokens: nil) == 340)
        #expect(KVPolicy.online.expectedLength(prompt: 100, maxTokens: 1000) == 1100)
        var helix = KVPolicy.online
        helix.reserveMaxTokens = false
        #expect(helix.expectedLength(prompt: 100, maxTokens: 1000) == 244)
        #expect(helix.expectedLength(prompt: 100, maxTokens: 10) == 110)
        #expect(KVPolicy.offline.admits(entries: 850, reserved: 0, capacity: 1000))
        #expect(!KVPolicy.offline.admits(entries: 851, reserved: 0, capacity: 1000))
        #expect(!KVPolicy.online.admits(entries: 1, reserved: 900, capacity: 1000))
    }

    @Test func promptLongerThanTheNodesLimitIsMasked() throws {
        var graph = diamond(flows: (3, 1))
        graph.nodes[graph.index["a"]!].promptLimit = 50
        var router = Router(graph: graph)
        for _ in 0..<5 { #expect(names(try router.route(prompt: 60, maxTokens: 1, reserved: { _ in 0 }).get(), graph) == ["b", "d"]) }
        #expect(names(try router.route(prompt: 50, maxTokens: 1, reserved: { _ in 0 }).get(), graph) == ["a", "c"])
    }

    @Test func aDeadEndIsBackedOutOfAndUnavailableNodesMasked() throws {
        var graph = diamond(flows: (3, 1))
        graph.nodes[graph.index["c"]!].available = false
        var router = Router(graph: graph)
        // a is IWRR's choice but c (a's only way on) is not serving: the route goes by b.
        #expect(names(try router.route(prompt: 10, maxTokens: 1, reserved: { _ in 0 }).get(), graph) == ["b", "d"])
        // Only the route found is charged.
        #expect(router.loads[graph.source] == [0, 10])
        graph.nodes[graph.index["d"]!].available = false
        router.graph = graph
        guard case .failure(.noCandidate(let after, _, let why)) = router.route(prompt: 10, maxTokens: 1, reserved: { _ in 0 }) else {
            Issue.record("routed through unavailable nodes"); return
        }
        #expect(["a", "b"].contains(after) && why.contains("not serving"), "\(after): \(why)")
    }

    @Test func strictNeedsExactStartsAndPartialRunsTheRest() throws {
        // a [0,3) → c [2,4): strict refuses (c starts at 2, a ends at 3); partial runs c's layer 3 only.
        let nodes = [RoutingNode(name: "a", layers: 0..<3, kvCapacity: 1e6), RoutingNode(name: "c", layers: 2..<4, kvCapacity: 1e6)]
        let arcs = [FlowArc(from: "source", to: "a", flow: 1), FlowArc(from: "a", to: "c", flow: 1), FlowArc(from: "c", to: "sink", flow: 1)]
        var strict = Router(graph: FlowGraph(nodes: nodes, arcs: arcs, layerCount: 4, partial: false))
        #expect((try? strict.route(prompt: 1, maxTokens: 1, reserved: { _ in 0 }).get()) == nil)
        var partial = Router(graph: FlowGraph(nodes: nodes, arcs: arcs, layerCount: 4, partial: true))
        let route = try partial.route(prompt: 10, maxTokens: 0, reserved: { _ in 0 }).get()
        #expect(route.steps.map(\.layers) == [0..<3, 3..<4])
        #expect(Router.reservation(route) == [0: 30, 1: 10])
    }

    @Test func noPlanIsSaid() {
        var router = Router(graph: FlowGraph(nodes: [], arcs: [], layerCount: 4, partial: false))
        #expect(router.route(prompt: 1, maxTokens: 1, reserved: { _ in 0 }) == .failure(.noPlan))
    }

    @Test func shortestQueuePicksTheShorterQueue() throws {
        var router = Router(graph: diamond(flows: (3, 1)), policy: .shortestQueue)
        let b = router.graph.index["b"]!, d = router.graph.index["d"]!
        let route = try router.route(prompt: 1, maxTokens: 1, reserved: { _ in 0 }, queueLength: { $0 == b || $0 == d ? 0 : 5 }).get()
        #expect(names(route, router.graph) == ["b", "d"])
        #expect(router.loads[router.graph.source] == [0, 0])   // only IWRR keeps loads
    }

    @Test func randomRoutingReplaysWithTheSameSeedAndUsesEveryArc() throws {
        func draws(seed: UInt64) throws -> [String] {
            var router = Router(graph: diamond(flows: (3, 1)), policy: .random, seed: seed)
            return try (0..<200).map { _ in names(try router.route(prompt: 1, maxTokens: 1, reserved: { _ in 0 }).get(), router.graph)[0] }
        }
        let one = try draws(seed: 7)
        #expect(one == (try draws(seed: 7)))
        #expect(one != (try draws(seed: 8)))
        let a = one.filter { $0 == "a" }.count
        #expect(a > 70 && a < 130, "random ignores flow: \(a) of 200 to a")
    }

    @Test func swarmTakesTheLowestPriorityAndAdvancesItByTheHopTime() throws {
        var router = Router(graph: diamond(flows: (1, 1)), policy: .swarm)
        func first() throws -> String { names(try router.route(prompt: 1, maxTokens: 1, reserved: { _ in 0 }).get(), router.graph)[0] }
        // Equal priorities (0.05): the lower index, then the other one.
        let a = try router.route(prompt: 1, maxTokens: 1, reserved: { _ in 0 }).get()
        let b = try router.route(prompt: 1, maxTokens: 1, reserved: { _ in 0 }).get()
        #expect(names(a, router.graph) == ["a", "c"] && names(b, router.graph) == ["b", "d"])
        // Hop times 1.05 s into a and 0.05 s into b: averages 0.8·t + 0.2·0.05 = 0.85 and 0.05.
        router.observe(a, hop: 0, seconds: 1.05)
        router.observe(b, hop: 0, seconds: 0.05)
        #expect(abs(router.ema[router.graph.source][0] - 0.85) < 1e-12 && abs(router.ema[router.graph.source][1] - 0.05) < 1e-12)
        // Priorities 0.1 and 0.1 → a (to 0.95); then b while its priority 0.1, 0.15 … 0.9 stays
        // below a's: 17 routes, the fast arc taking 17 times the slow one's share.
        var picks: [String] = []
        for _ in 0..<18 { picks.append(try first()) }
        #expect(picks == ["a"] + Array(repeating: "b", count: 17), "\(picks)")
        // Decode steps do not move Swarm's priorities.
        let before = router.priority
        router.chargeDecode(a)
        #expect(router.priority == before)
    }

    /// One first node a (layers 0–2), then c or d (2–4), every arc of flow 1: Swarm's choice at a.
    static func aThenCOrD() -> FlowGraph {
        let nodes = [RoutingNode(name: "a", layers: 0..<2, kvCapacity: 1e6),
                     RoutingNode(name: "c", layers: 2..<4, kvCapacity: 1e6), RoutingNode(name: "d", layers: 2..<4, kvCapacity: 1e6)]
        let arcs = [FlowArc(from: "source", to: "a", flow: 1), FlowArc(from: "a", to: "c", flow: 1), FlowArc(from: "a", to: "d", flow: 1),
                    FlowArc(from: "c", to: "sink", flow: 1), FlowArc(from: "d", to: "sink", flow: 1)]
        return FlowGraph(nodes: nodes, arcs: arcs, layerCount: 4, partial: false)
    }

    /// Swarm builds the whole route at admission (live and simulated alike), so a hop time
    /// measured after one admission steers the next ones. Six prompts enter a (the only first
    /// node); the first goes on to c and its hop into c takes 5 s (average 0.8·5 + 0.2·0.05 =
    /// 4.01), observed before the second is admitted: c's priority jumps when it is next chosen,
    /// and d takes the rest. Observed only after all six were admitted, the routes alternate.
    @Test func swarmRoutesWholeAtAdmissionAndLearnsFromEachHopTime() throws {
        let graph = Self.aThenCOrD()

        var learning = Router(graph: graph, policy: .swarm)
        var picks: [String] = []
        for i in 0..<6 {
            let route = try learning.route(prompt: 10, maxTokens: nil, reserved: { _ in 0 }).get()
            #expect(route.steps.map(\.layers) == [0..<2, 2..<4])
            #expect(route.steps[0].entries == learning.kv.expectedLength(prompt: 10, maxTokens: nil) * 2)
            picks += route.steps.map { graph.nodes[$0.node].name }
            if i == 0 { learning.observe(route, hop: 1, seconds: 5) }
        }
        #expect(picks == ["a", "c", "a", "d", "a", "c", "a", "d", "a", "d", "a", "d"], "\(picks)")
        #expect(abs(learning.ema[0][0] - 4.01) < 1e-12)

        var late = Router(graph: graph, policy: .swarm)
        let routes = try (0..<6).map { _ in try late.route(prompt: 10, maxTokens: nil, reserved: { _ in 0 }).get() }
        late.observe(routes[0], hop: 1, seconds: 5)
        #expect(routes.map { graph.nodes[$0.steps[1].node].name } == ["c", "d", "c", "d", "c", "d"])
    }

    /// The artifact's Swarm (the simulator's artifact mode) picks each hop as the prompt leaves a
    /// node (`nextHop`): six prompts all take their first hop (to a) before any hop time is back,
    /// yet their second hops learn from the first one's 5 s into c, as whole routes admitted
    /// together cannot (`late` above alternates). Each pick charges only its own arc.
    @Test func swarmNextHopPicksAsThePromptLeavesAndChargesOnlyThatArc() throws {
        let graph = Self.aThenCOrD()
        var router = Router(graph: graph, policy: .swarm)
        let first = try (0..<6).map { _ in try router.nextHop(from: graph.source, layer: 0, prompt: 10, maxTokens: nil, reserved: { _ in 0 }).get() }
        #expect(first.allSatisfy { graph.nodes[$0.node].name == "a" && $0.layers == 0..<2 })
        // Six picks of a, each advancing the source's arc by its 0.05 average; a's arcs untouched.
        #expect(abs(router.priority[graph.source][0] - 0.35) < 1e-12 && router.priority[0] == [0.05, 0.05])
        var second: [String] = []
        for i in 0..<6 {
            let step = try router.nextHop(from: 0, layer: 2, prompt: 10, maxTokens: nil, reserved: { _ in 0 }).get()
            #expect(step.layers == 2..<4 && step.arc.vertex == 0)
            second.append(graph.nodes[step.node].name)
            if i == 0 { router.observe(Route(steps: [first[0], step]), hop: 1, seconds: 5) }
        }
        #expect(second == ["c", "d", "c", "d", "d", "d"], "\(second)")
        // Past the last layer there is no hop to pick.
        #expect(router.nextHop(from: 1, layer: 4, prompt: 10, maxTokens: nil, reserved: { _ in 0 }) == .failure(.noPlan))
    }

    @Test func ledgerReservesOnceAndReleasesEverything() {
        var ledger = KVLedger<String, String>()
        let first = ledger.reserve("r1", ["a": 30, "b": 10])
        let again = ledger.reserve("r1", ["a": 1])
        #expect(first && !again)
        ledger.reserve("r2", ["a": 5])
        #expect(ledger.reserved(on: "a") == 35)
        let released = ledger.release("r1")
        #expect(Set(released) == ["a", "b"])
        #expect(ledger.reserved(on: "a") == 5 && ledger.reserved(on: "b") == 0)
        #expect(ledger.requests(on: "a") == ["r2"])
        let twice = ledger.release("r1")
        #expect(twice.isEmpty)
    }
}

@Suite struct EveryArcTests {
    /// Strict: the source reaches the nodes holding layer 0, each node the ones starting where it
    /// ends, the sink the ones holding the last layer; an empty node is left out. Partial: a node
    /// also reaches one that holds its next layer and more.
    @Test func arcsFollowTheLayout() {
        let nodes = [RoutingNode(name: "a", layers: 0..<2, kvCapacity: 1), RoutingNode(name: "b", layers: 2..<4, kvCapacity: 1),
                     RoutingNode(name: "c", layers: 1..<4, kvCapacity: 1), RoutingNode(name: "e", layers: 0..<0, kvCapacity: 1)]
        func pairs(_ partial: Bool) -> Set<[String]> {
            Set(FlowArc.everyArc(nodes, layerCount: 4, partial: partial).map { [$0.from, $0.to] })
        }
        #expect(pairs(false) == [["source", "a"], ["a", "b"], ["b", "sink"], ["c", "sink"]])
        #expect(pairs(true) == [["source", "a"], ["a", "b"], ["a", "c"], ["b", "sink"], ["c", "sink"]])
        #expect(FlowArc.everyArc(nodes, layerCount: 4, partial: false).allSatisfy { $0.flow == 1 })
    }
}
