import Testing
@testable import Routing

@Suite struct PromptWindowTests {
    typealias Window = PromptWindow<Int, String>
    static let slow = Window.Link(from: "a", to: "c")

    /// A 1 MB/s link with a 2 s window holds 2 MB of prompts; an idle link takes even a larger one.
    @Test func aLinkTakesPromptsUpToItsWindowAndAlwaysOneWhenIdle() {
        var window = Window(seconds: 2)
        #expect(window.admits(Self.slow, bytes: 5e6, bandwidth: 1e6))   // idle: one prompt always goes
        window.hold(1, along: ["a", "c"], bytes: 1.5e6)
        #expect(window.admits(Self.slow, bytes: 0.5e6, bandwidth: 1e6))
        #expect(!window.admits(Self.slow, bytes: 0.6e6, bandwidth: 1e6))
        #expect(window.admits(Window.Link(from: "b", to: "d"), bytes: 0.6e6, bandwidth: 1e6))   // other links are not charged
        window.hold(2, along: ["a", "c"], bytes: 0.5e6)
        #expect(window.bytes(on: Self.slow) == 2e6 && window.promptsInFlight == 2)
        #expect(window.release(1) && !window.release(1))
        #expect(window.bytes(on: Self.slow) == 0.5e6)
        #expect(window.admits(Self.slow, bytes: 1.5e6, bandwidth: 1e6))
        window.release(2)
        #expect(window.bytesByLink.isEmpty && window.promptsInFlight == 0)
    }

    /// The router masks an arc whose link is full of prompts, as it masks a node without KV room:
    /// IWRR's next choice a → c is closed, so the request goes by b → d; with both closed it is
    /// refused, and the refusal says why.
    @Test func theRouterMasksLinksFullOfPrompts() throws {
        let nodes = [RoutingNode(name: "a", layers: 0..<2, kvCapacity: 1e6), RoutingNode(name: "b", layers: 0..<2, kvCapacity: 1e6),
                     RoutingNode(name: "c", layers: 2..<4, kvCapacity: 1e6), RoutingNode(name: "d", layers: 2..<4, kvCapacity: 1e6)]
        let arcs = [FlowArc(from: "source", to: "a", flow: 1), FlowArc(from: "source", to: "b", flow: 1),
                    FlowArc(from: "a", to: "c", flow: 1), FlowArc(from: "b", to: "d", flow: 1),
                    FlowArc(from: "c", to: "sink", flow: 1), FlowArc(from: "d", to: "sink", flow: 1)]
        let graph = FlowGraph(nodes: nodes, arcs: arcs, layerCount: 4, partial: false)
        var router = Router(graph: graph)
        var closed: Set<String> = ["a>c"]
        func open(_ vertex: Int, _ node: Int) -> Bool {
            vertex == graph.source || !closed.contains("\(graph.nodes[vertex].name)>\(graph.nodes[node].name)")
        }
        let route = try router.route(prompt: 10, maxTokens: 1, reserved: { _ in 0 }, linkOpen: open).get()
        #expect(route.nodes.map { graph.nodes[$0].name } == ["b", "d"])
        closed.insert("b>d")
        guard case .failure(let refusal) = router.route(prompt: 10, maxTokens: 1, reserved: { _ in 0 }, linkOpen: open) else {
            Issue.record("routed over full links"); return
        }
        #expect(refusal.description.contains("carries its share of prompts"), "\(refusal)")
    }
}
