import Testing
@testable import Routing

@Suite struct NodeOrderTests {
    @Test func numbersInNamesCompareAsNumbers() {
        let live = ["node-10", "node-2", "node-0", "node-1", "node-23", "node-11"]
        #expect(live.sorted(by: NodeOrder.precedes) == ["node-0", "node-1", "node-2", "node-10", "node-11", "node-23"])
        #expect(["10", "9", "0", "100"].sorted(by: NodeOrder.precedes) == ["0", "9", "10", "100"])
        #expect(["b", "a10", "a9", "a"].sorted(by: NodeOrder.precedes) == ["a", "a9", "a10", "b"])
        #expect(!NodeOrder.precedes("node-3", "node-3"))
        // Leading zeros: equal values, the shorter spelling first; a strict order all the same.
        #expect(NodeOrder.precedes("n1", "n01") && !NodeOrder.precedes("n01", "n1"))
    }

    /// Whatever order the caller lists nodes in (the live scheduler lists worker ids, the
    /// simulator indices), each vertex's successors come in `NodeOrder`, and ties go the same way.
    @Test func tiesBreakByNodeOrderWhateverTheListingOrder() throws {
        let names = (0..<12).map { "node-\($0)" }
        func graph(_ listed: [String]) -> FlowGraph {
            let nodes = listed.map { RoutingNode(name: $0, layers: 0..<4, kvCapacity: 1e9) }
            return FlowGraph(nodes: nodes, arcs: FlowArc.everyArc(nodes, layerCount: 4, partial: false), layerCount: 4, partial: false)
        }
        for policy in [RoutingPolicy.iwrr, .swarm, .shortestQueue] {
            var picks: [[String]] = []
            for listed in [names, names.sorted(), names.reversed()] {
                var router = Router(graph: graph(listed), policy: policy)
                picks.append(try (0..<12).map { _ in
                    router.graph.nodes[try router.route(prompt: 10, maxTokens: 5, reserved: { _ in 0 }).get().nodes[0]].name
                })
            }
            #expect(picks[0] == picks[1] && picks[1] == picks[2], "\(policy): \(picks)")
            // Under Swarm every pick adds the same priority to its arc: the picks walk the order.
            if policy == .swarm { #expect(picks[0] == names, "\(picks[0])") }
            // Under IWRR every arc has the same flow: the same walk.
            if policy == .iwrr { #expect(picks[0] == names, "\(picks[0])") }
        }
    }
}
