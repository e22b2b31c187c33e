import DeterministicRandom
import Foundation
import Routing

/// Discrete-event simulation of serving a placement (spec §6), modelled on the Helix artifact's
/// simulator (`HelixConstants` lists what is taken from it and where):
/// - nodes batch FIFO work within their GPU type's prompt and decode limits and run it layer by
///   layer at the profiles' per-layer times (`NodeBatch`), plus a host-side copy cost;
/// - a directed link carries one transfer at a time, at the link's bandwidth capped by the
///   sender's and receiver's NIC shares (max-flow routing: the NIC split in proportion to the
///   flow on each link; Swarm: split evenly over the sender's links), then its latency;
/// - routes come from the shared routing core (IWRR over the runtime max-flow, Swarm, random,
///   shortest-queue), with Helix's KV expectation for admission; in the artifact's mode Swarm
///   picks each hop as the prompt leaves a node (`SwarmHops`); the KV cache itself grows by
///   one token per decode step on every hop and is freed when the query ends;
/// - offline, queries are fed as the artifact's feeder does (`HelixConstants`); online, they
///   arrive on the Azure trace rescaled to a token rate.
public enum Simulator {
    public static func run(problem: PlacementProblem, placement: Placement, connectivity: Connectivity, workload: Workload,
                           config: SimulationConfig, dataDirectory: String = SharedData.directory) throws -> SimulationReport {
        try run(problem: problem, placement: placement, connectivity: connectivity, workload: workload, config: config,
                profiles: try GPUProfile.loadAll(problem: problem, dataDirectory: dataDirectory))
    }

    /// `stop`, asked every few thousand events, ends a run early with an error (the planner's
    /// ranking under a deadline or a cancel: one run may take seconds).
    public static func run(problem: PlacementProblem, placement: Placement, connectivity: Connectivity, workload: Workload,
                           config: SimulationConfig, profiles: [String: GPUProfile], stop: (() -> Bool)? = nil) throws -> SimulationReport {
        try placement.validate(for: problem)
        try config.validate()
        for (j, range) in placement.ranges.enumerated() where range != nil && profiles[problem.nodes[j].type] == nil {
            throw PlacementError(section: "node \(problem.nodes[j].name)", field: "type", "no latency profile for type '\(problem.nodes[j].type)' to simulate it with")
        }
        guard !workload.inputLengths.isEmpty, workload.inputLengths.count == workload.outputLengths.count else {
            throw PlacementError(section: "workload", "needs as many output lengths as input lengths, at least one")
        }
        var flows = FlowScorer.runtimeFlow(problem, placement, connectivity)
        if let given = config.arcFlows { flows = try given.replacing(flows, nodeCount: problem.nodes.count) }
        guard flows.value > 0 else { throw PlacementError(section: "placement", "serves nothing: its max flow is zero") }
        var engine = try SimulationEngine(problem: problem, placement: placement, flows: flows, connectivity: connectivity, workload: workload,
                                          config: config, profiles: profiles)
        let clock = Clock()
        guard engine.run(stop: stop) else { throw PlacementError(section: "simulation", "stopped before its end (a deadline or a cancel)") }
        return engine.report(wallSeconds: clock.elapsed)
    }
}

struct SimulationEngine {
    struct Request {
        var input: Int
        var output: Int
        var produced = 0
        var path = Route(steps: [])
        var route: [Int] { path.nodes }
        var iterationStart = 0.0
        /// When the query was issued (its prompt latency runs from here, queueing included, as a
        /// live client's runs from sending).
        var arrival = 0.0
        /// When the transfer into the current hop started sending (Swarm's hop time runs from it).
        var hopSendStart = 0.0
    }

    struct Event: Comparable {
        var time: Double
        var seq: Int
        var kind: Kind
        enum Kind { case nodeDone(Int), arrive(request: Int, hop: Int), arriveTogether([Arrival]), newRequest }
        static func < (a: Event, b: Event) -> Bool { a.time != b.time ? a.time < b.time : a.seq < b.seq }
        static func == (a: Event, b: Event) -> Bool { a.time == b.time && a.seq == b.seq }
    }

    /// A directed link as the simulator uses it: bandwidth after NIC shares, latency, and when it is next free.
    struct Channel { var bandwidth: Double; var latency: Double; var freeAt = 0.0 }

    let problem: PlacementProblem
    let placement: Placement
    let config: SimulationConfig
    let workload: Workload
    let profiles: [String: GPUProfile]
    let limits: [NodeBatch.Limits?]
    var rng: SplitMix64
    var heap = EventHeap()
    var seq = 0
    var now = 0.0
    var events = 0

    // Routing (the same core the live scheduler uses), the KV it promised per node, and the KV
    // actually held (prompt tokens, then one more per decode step, on every hop).
    var router: Router
    /// The placement's runtime max flow in tokens/s (prompt + decode).
    var maxFlow = 0.0
    var ledger = KVLedger<Int, Int>()
    var kvHeld: [Double]
    var queue: [[NodeBatch.Item]]
    var busy: [Bool]
    var inFlight: [[NodeBatch.Item]]
    /// Tokens received since the node last started a batch (the host-side copy cost).
    var received: [Int]
    var channels: [Int: Channel]
    var requests: [Request] = []
    var waiting: [Int] = []
    /// Prompts in flight per node-to-node link, as the live scheduler admits them (`PromptWindow`;
    /// nil: no cap, the artifact's admission), with each link's declared bandwidth.
    var window: PromptWindow<Int, Int>?
    var linkBandwidth: [PromptWindow<Int, Int>.Link: Double] = [:]
    var rejected = 0
    /// Batched hops: the decode steps a batch's last hops loop back, by first node, until sent together.
    var loopOutbox: [Int: [Int]] = [:]
    // Measurements.
    var decodeTokensInWindow = 0
    var finished = 0
    var promptLatencies: [Double] = []
    var decodeLatencies: [Double] = []
    var usage = UsageMeter()

    init(problem: PlacementProblem, placement: Placement, flows: FlowResult, connectivity: Connectivity, workload: Workload,
         config: SimulationConfig, profiles: [String: GPUProfile]) throws {
        self.problem = problem
        self.placement = placement
        self.config = config
        self.workload = workload
        self.profiles = profiles
        rng = Workload.queryGenerator(seed: config.seed)
        let n = problem.nodes.count
        // Nodes are named by index, as in the runtime flow; an unplaced node holds no layers.
        let nodes = (0..<n).map { i -> RoutingNode in
            let node = problem.nodes[i]
            guard let range = placement.ranges[i], range.count > 0 else { return RoutingNode(name: "\(i)", layers: 0..<0, kvCapacity: 0) }
            let k = range.count
            return RoutingNode(name: "\(i)", layers: range.start..<range.end, kvCapacity: Double(node.kvCapacity[min(k, node.kvCapacity.count) - 1]),
                               promptLimit: node.promptMaxRequests[min(k, node.promptMaxRequests.count) - 1] * HelixConstants.maxInputLength)
        }
        limits = (0..<n).map { i in
            guard let range = placement.ranges[i], let profile = profiles[problem.nodes[i].type] else { return nil }
            return NodeBatch.Limits(profile: profile, layers: range.count, tokens: config.batchTokens ?? .max)
        }
        // IWRR routes over the runtime max-flow, the one the live scheduler gets with its plan. The
        // KV-blind policies route over every link a request can take, flow or not: the artifact's
        // Swarm scheduler picks among all of a node's outbound links (`SwarmNode.outbound_link_uids`), and a max flow may leave some of
        // a layout's links empty.
        // (Endpoint's description is the routing core's node name: "source", "sink" or the index.)
        let links = Set(problem.arcs.map { [$0.from.description, $0.to.description] })
        let arcs = config.routing == .iwrr ? flows.arcFlows.map { FlowArc(from: $0.from, to: $0.to, flow: $0.tokensPerSecond) }
            : FlowArc.everyArc(nodes, layerCount: problem.numLayers, partial: connectivity == .partial) { links.contains([$0, $1]) }
        maxFlow = flows.value
        let graph = FlowGraph(nodes: nodes, arcs: arcs, layerCount: problem.numLayers, partial: connectivity == .partial)
        router = Router(graph: graph, policy: config.routing, kv: Self.admission(config), seed: config.seed)
        // The artifact's scheduler refuses a request that meets a hop with no room; the live one
        // (and so the closed loop) backs out and tries the next candidate.
        router.backtracks = config.closedLoop
        channels = try Self.channels(problem: problem, flows: flows, graph: graph, evenNICSplit: config.routing != .iwrr)
        window = config.promptWindowSeconds.map { PromptWindow(seconds: $0) }
        for arc in problem.arcs {
            guard case .node(let a) = arc.from, case .node(let b) = arc.to else { continue }
            linkBandwidth[.init(from: a, to: b)] = arc.bandwidthBytesPerSecond
        }
        kvHeld = Array(repeating: 0, count: n)
        queue = Array(repeating: [], count: n)
        busy = Array(repeating: false, count: n)
        inFlight = Array(repeating: [], count: n)
        received = Array(repeating: 0, count: n)
    }

    /// The KV rule routes are admitted by. A closed loop admits as the live scheduler does (`lattice
    /// up --kv-policy offline`), whatever the routing: each request's prompt + its own output
    /// length (the max_tokens a live client sends) on every layer it runs. Otherwise the
    /// artifact's: IWRR with Helix's expectation checked for every layer a node holds; Swarm (and
    /// the other KV-blind baselines) admit whatever they route, as its Swarm scheduler keeps no KV
    /// expectation.
    static func admission(_ config: SimulationConfig) -> KVPolicy {
        if config.closedLoop { return .offline }
        guard config.routing == .iwrr else { return KVPolicy(highWaterMark: .greatestFiniteMagnitude, outputRatio: 0) }
        var kv: KVPolicy = config.mode == .online ? .online : .offline
        kv.checksWholeNode = true
        return kv
    }

    /// Key of the directed link from → to (node indices; n is the source on the way out, the sink on the way in).
    static func key(_ from: Int, _ to: Int, _ n: Int) -> Int { from * (n + 1) + to }

    /// Every link of the cluster, its bandwidth capped by the NIC shares of its two ends: under
    /// max-flow routing each NIC is split in proportion to the flow on its links (the artifact's
    /// `schedule_initialization`), under the others evenly over the sender's links (its Swarm
    /// scheduler's flow control). Throws if a route could need a link the cluster lacks.
    static func channels(problem: PlacementProblem, flows: FlowResult, graph: FlowGraph, evenNICSplit: Bool) throws -> [Int: Channel] {
        let n = problem.nodes.count
        func index(_ name: String) -> Int? { name == FlowArc.source || name == FlowArc.sink ? n : Int(name) }
        // Shares are of bytes/s, not tokens/s: the artifact weighs each link by `bandwidth × flow /
        // capacity` (`scheduler_core.py`), its flow in bytes. The coordinator's links carry token ids,
        // the others activations too, so a node sending to the sink and to a node (partial
        // inference) gives the sink link a small share.
        func bytesPerToken(_ a: Int, _ b: Int) -> Double {
            a == n || b == n ? problem.model.tokenSize : problem.model.activationSize + problem.model.tokenSize
        }
        var outFlow = [Double](repeating: 0, count: n + 1), inFlow = outFlow
        var flowOn: [Int: Double] = [:]
        for arc in flows.arcFlows {
            guard let a = index(arc.from), let b = index(arc.to) else { continue }
            let bytes = arc.tokensPerSecond * bytesPerToken(a, b)
            outFlow[a] += bytes
            inFlow[b] += bytes
            flowOn[key(a, b, n)] = bytes
        }
        func nicOut(_ i: Int) -> Double { i == n ? HelixConstants.coordinatorNICBytesPerSecond : problem.nodes[i].nicOutBytesPerSecond }
        func nicIn(_ i: Int) -> Double { i == n ? HelixConstants.coordinatorNICBytesPerSecond : problem.nodes[i].nicInBytesPerSecond }
        var result: [Int: Channel] = [:]
        for arc in problem.arcs {
            let a: Int, b: Int
            switch (arc.from, arc.to) {
            case (.source, .node(let j)): (a, b) = (n, j)
            case (.node(let i), .node(let j)): (a, b) = (i, j)
            case (.node(let i), .sink): (a, b) = (i, n)
            default: continue
            }
            let flow = flowOn[key(a, b, n)] ?? 0
            // A link without flow is used only to reach the sink: it has the NICs to itself.
            let outShare = evenNICSplit ? 1 / Double(max(1, graph.successors[a].count)) : (flow > 0 ? flow / outFlow[a] : 1)
            let inShare = evenNICSplit || flow <= 0 ? 1 : flow / inFlow[b]
            result[key(a, b, n)] = Channel(bandwidth: min(arc.bandwidthBytesPerSecond, nicOut(a) * outShare, nicIn(b) * inShare),
                                           latency: arc.latencySeconds)
        }
        // Routes follow the graph's arcs, and end at a node holding the last layer.
        for (v, successors) in graph.successors.enumerated() {
            for s in successors where result[key(v, s.node, n)] == nil {
                throw PlacementError(section: "link \(v == n ? "source" : "\(v)")-\(s.node)", "the runtime flow uses a link the cluster does not have")
            }
        }
        let routed = Set(graph.successors.flatMap { $0.map(\.node) })
        for j in routed where graph.nodes[j].layers.upperBound == graph.layerCount && result[key(j, n, n)] == nil {
            throw PlacementError(section: "link \(j)-sink", "node \(j) holds the last layer but has no link to the sink")
        }
        return result
    }

    var end: Double { config.warmupSeconds + config.measureSeconds }

    mutating func schedule(_ time: Double, _ kind: Event.Kind) {
        seq += 1
        heap.push(Event(time: time, seq: seq, kind: kind))
    }

    /// Runs to the end of the measured window; false when `stop` ended it first.
    mutating func run(stop: (() -> Bool)? = nil) -> Bool {
        switch config.mode {
        case .offline:
            let feeder = config.routing == .iwrr && !config.closedLoop
            let initial = feeder ? HelixConstants.helixInitialQueries : (config.offlineQueries ?? config.artifactQueries)
            // A closed loop's queries join evenly over the first half of the warm-up, as `lattice load`'s do.
            let spacing = config.closedLoop ? min(HelixConstants.feedSpacingSeconds, config.warmupSeconds / 2 / Double(initial)) : HelixConstants.feedSpacingSeconds
            for i in 0..<initial { schedule(Double(i) * spacing, .newRequest) }
        case .online:
            scheduleArrivals()
        }
        while let event = heap.pop() {
            if event.time > end { break }
            // Asked every 4096 events: rare next to the events' own work, often within a run of seconds.
            if events % 4096 == 0, let stop, stop() { return false }
            if usage.nextSample <= event.time {
                usage.sampleKV(upTo: event.time, used: kvHeld, capacity: router.graph.nodes.map(\.kvCapacity), window: config.warmupSeconds...end)
            }
            now = event.time
            events += 1
            switch event.kind {
            case .newRequest: admitNew()
            case .arrive(let r, let hop): arrive(request: r, hop: hop)
            case .arriveTogether(let arrivals): arriveTogether(arrivals)
            case .nodeDone(let i): nodeDone(i)
            }
        }
        return true
    }

    /// Online arrivals: the trace's per-bucket rates rescaled so that tokens arrive at the target rate.
    mutating func scheduleArrivals() {
        let rate = config.onlineTokenRate ?? max(1, defaultOnlineRate())
        for t in workload.arrivalTimes(tokenRate: rate, duration: end, using: &rng) { schedule(t, .newRequest) }
    }

    func defaultOnlineRate() -> Double {
        // Half of the decode-token rate the flow could carry: flow counts prompt + decode tokens.
        0.5 * maxFlow
    }

    mutating func admitNew() {
        // Each query's lengths are a uniform draw from the workload (`Workload.drawRow`): the file is
        // in trace order, and its early rows are not typical (first 2000: 289 output tokens against
        // 232), unless it replays another simulator's queries in order.
        let w = config.queriesInOrder ? requests.count % workload.inputLengths.count : workload.drawRow(using: &rng)
        requests.append(Request(input: workload.inputLengths[w], output: workload.outputLengths[w], arrival: now))
        let r = requests.count - 1
        // A closed loop's queue is first come, first served, as the live scheduler's: a new query
        // does not overtake one already waiting.
        guard !(config.closedLoop && !waiting.isEmpty) else { waiting.append(r); return }
        guard !route(r) else { return }
        // Offline, the artifact's scheduler rejects a query no route has KV room for; online (and
        // in a closed loop, like the live scheduler's queue, or held back by the prompt window) it waits.
        if config.mode == .offline && !config.closedLoop && window == nil { rejected += 1 } else { waiting.append(r) }
    }

    /// Routes the request and reserves its expected KV on every hop; false if no route has room now.
    /// Every policy, Swarm included, builds the whole route now with the routing core's
    /// `Router.route`, as the live scheduler does (see Router).
    mutating func route(_ r: Int) -> Bool {
        if config.swarmPicksHopsOnTheWay { return admitFirstHop(r) }
        let ledger = self.ledger, queue = self.queue, input = requests[r].input
        // A live client names its max_tokens (`lattice load`: the prompt's token and the output's);
        // the artifact's queries do not (Helix's expectation).
        let maxTokens = config.closedLoop ? 1 + requests[r].output : nil
        guard case .success(let path) = router.route(prompt: input, maxTokens: maxTokens, reserved: { ledger.reserved(on: $0) },
                                                     queueLength: { queue[$0].count }, linkOpen: linkOpen(prompt: input)) else { return false }
        self.ledger.reserve(r, Router.reservation(path))
        let bytes = hopBytes(input)
        window?.hold(r, along: path.nodes, bytes: bytes)
        requests[r].path = path
        startIteration(r)
        return true
    }

    /// Bytes `tokens` tokens (a prompt, or a decode step's one) send over a node-to-node link.
    func hopBytes(_ tokens: Int) -> Double { Double(tokens) * (problem.model.activationSize + problem.model.tokenSize) }

    /// Whether the link from `vertex` to `node` takes another prompt of `prompt` tokens now (the
    /// source's links carry token ids and are not capped).
    func linkOpen(prompt: Int) -> (Int, Int) -> Bool {
        let window = self.window, bandwidth = linkBandwidth, bytes = hopBytes(prompt), n = problem.nodes.count
        return { vertex, node in
            guard let window, vertex < n, let capacity = bandwidth[.init(from: vertex, to: node)] else { return true }
            return window.admits(.init(from: vertex, to: node), bytes: bytes, bandwidth: capacity)
        }
    }

    /// The request's prompt is through (or it ended): its links take more prompts.
    mutating func promptThrough(_ r: Int) {
        guard window?.release(r) == true else { return }
        retryWaiting()
    }

    mutating func startIteration(_ r: Int) {
        requests[r].iterationStart = now
        let isPrompt = requests[r].produced == 0
        let tokens = isPrompt ? requests[r].input : 1
        if !isPrompt { router.chargeDecode(requests[r].path) }
        // Source → first hop carries token ids.
        let sent = transfer(from: problem.nodes.count, to: requests[r].route[0], bytes: Double(tokens) * problem.model.tokenSize)
        requests[r].hopSendStart = sent.start
        schedule(sent.arrival, .arrive(request: r, hop: 0))
    }

    /// When the transfer starts sending and when it arrives: it waits for the link, takes bytes /
    /// bandwidth, then the latency.
    mutating func transfer(from: Int, to: Int, bytes: Double) -> (start: Double, arrival: Double) {
        let k = Self.key(from, to, problem.nodes.count)
        // `channels` checked that every link a route can take exists.
        guard var channel = channels[k] else { preconditionFailure("route uses link \(from)->\(to), which init checked exists") }
        let start = max(now, channel.freeAt)
        channel.freeAt = start + bytes / channel.bandwidth
        channels[k] = channel
        return (start, channel.freeAt + channel.latency)
    }

    mutating func arrive(request r: Int, hop: Int, startsBatch: Bool = true) {
        let isPrompt = requests[r].produced == 0
        let step = requests[r].path.steps[hop]
        let tokens = isPrompt ? requests[r].input : 1
        queue[step.node].append(NodeBatch.Item(request: r, hop: hop, tokens: tokens, isPrompt: isPrompt,
                                               context: requests[r].input + max(0, requests[r].produced - 1), firstLayer: step.layers.lowerBound,
                                               arrived: now))
        received[step.node] += tokens
        if startsBatch && !busy[step.node] { startBatch(step.node) }
    }

    mutating func startBatch(_ j: Int) {
        guard !queue[j].isEmpty, let range = placement.ranges[j], let limits = limits[j], let profile = profiles[problem.nodes[j].type] else { return }
        let (batch, rest) = NodeBatch.form(queue[j], limits: limits)
        queue[j] = rest
        let seconds = NodeBatch.seconds(batch, range: range.start..<range.end, profile: profile)
            + NodeBatch.overheadSeconds(tokens: received[j], activationBytes: problem.model.activationSize)
        received[j] = 0
        busy[j] = true
        inFlight[j] = batch
        usage.busy(j, from: now, to: now + seconds, window: config.warmupSeconds...end, nodes: problem.nodes.count)
        usage.batch(j, tokens: batch.reduce(0) { $0 + $1.tokens }, decodes: batch.filter { !$0.isPrompt }.count, at: now,
                    window: config.warmupSeconds...end, nodes: problem.nodes.count)
        schedule(now + seconds, .nodeDone(j))
    }

    mutating func nodeDone(_ j: Int) {
        busy[j] = false
        let batch = inFlight[j]
        inFlight[j] = []
        for item in batch where !item.isPrompt {
            usage.decodeDone(j, seconds: now - item.arrived, at: now, window: config.warmupSeconds...end, nodes: problem.nodes.count)
        }
        for item in batch {
            let r = item.request
            kvHeld[j] += Double(item.tokens * requests[r].path.steps[item.hop].layers.count)
            // Swarm times the hop into this node: from the start of sending to the end of computing
            // here (the artifact's `SwarmScheduler.schedule_transmission` measures it so).
            if config.routing == .swarm { router.observe(requests[r].path, hop: item.hop, seconds: now - requests[r].hopSendStart) }
        }
        // Every hop time is in before a prompt here picks its next hop (the artifact's Swarm
        // scheduler updates its averages first, then picks).
        switch config.hopMessages {
        case .batch: sendTogether(batch, from: j)
        case .request:
            for item in batch {
                let r = item.request
                if config.swarmPicksHopsOnTheWay && item.isPrompt {
                    guard extendRoute(r, from: j, layer: requests[r].path.steps[item.hop].layers.upperBound) else { abandon(r); continue }
                }
                send(r, hop: item.hop, tokens: item.tokens, from: j)
            }
        }
        startBatch(j)
    }

    /// What node `j` computed for hop `hop` of `r` goes on: to the next hop, or to the sink.
    mutating func send(_ r: Int, hop: Int, tokens: Int, from j: Int) {
        if hop == requests[r].route.count - 1 {
            let done = transfer(from: j, to: problem.nodes.count, bytes: Double(tokens) * problem.model.tokenSize)
            finishIteration(r, at: done.arrival, loopsFrom: config.decodeLoop == .workers ? j : nil)
        } else {
            let next = requests[r].route[hop + 1]
            let sent = transfer(from: j, to: next, bytes: hopBytes(tokens))
            requests[r].hopSendStart = sent.start
            schedule(sent.arrival, .arrive(request: r, hop: hop + 1))
        }
    }

    /// The token of request `r` reached the sink at `time`; `loopsFrom`: the last hop, which
    /// (decode on the workers) sends the next step to the first hop itself, now.
    mutating func finishIteration(_ r: Int, at time: Double, loopsFrom last: Int? = nil) {
        let latency = time - requests[r].iterationStart
        let measuring = time >= config.warmupSeconds && time <= end
        let wasPrompt = requests[r].produced == 0
        if wasPrompt {
            if measuring { promptLatencies.append(time - requests[r].arrival) }
        } else if measuring {
            decodeLatencies.append(latency); decodeTokensInWindow += 1
        }
        requests[r].produced += 1
        let saved = now
        now = time
        defer { now = saved }
        if wasPrompt { promptThrough(r) }
        if requests[r].produced > requests[r].output {
            // Done: free the KV it held and the KV promised on every hop, then let others in.
            for step in requests[r].path.steps {
                kvHeld[step.node] = max(0, kvHeld[step.node] - Double((requests[r].input + requests[r].output) * step.layers.count))
            }
            ledger.release(r)
            if measuring { finished += 1 }
            retryWaiting()
            feedOffline(queryFinished: true)
            return
        }
        if wasPrompt { feedOffline(queryFinished: false) }
        if let last, loopStep(r, from: last, at: saved, tokenArrival: time) { return }
        // The next iteration starts when this one's token arrives.
        startIteration(r)
    }

    /// The next decode step of `r` sent by its last hop to its first at `start` (the same node:
    /// no transfer); its latency runs from `tokenArrival`, when the sink saw the previous token,
    /// as a client sees the gaps between tokens. False when the two hops have no link.
    mutating func loopStep(_ r: Int, from last: Int, at start: Double, tokenArrival: Double) -> Bool {
        let first = requests[r].route[0]
        guard first == last || channels[Self.key(last, first, problem.nodes.count)] != nil else { return false }
        let time = now
        now = start
        defer { now = time }
        requests[r].iterationStart = tokenArrival
        router.chargeDecode(requests[r].path)
        // Batched hops: it goes with the batch's other steps for that first hop (`sendTogether`).
        if config.hopMessages == .batch { loopOutbox[first, default: []].append(r); return true }
        let sent = first == last ? (start: start, arrival: start) : transfer(from: last, to: first, bytes: problem.model.tokenSize)
        requests[r].hopSendStart = sent.start
        schedule(sent.arrival, .arrive(request: r, hop: 0))
        return true
    }

    /// Admits waiting queries that now have room: in a closed loop from the head only, as the live
    /// scheduler's queue (a head that does not fit holds the rest back); otherwise any that fits.
    mutating func retryWaiting() {
        if config.closedLoop {
            while let head = waiting.first, route(head) { waiting.removeFirst() }
            return
        }
        var still: [Int] = []
        for r in waiting where !route(r) { still.append(r) }
        waiting = still
    }

    /// The artifact's offline feeder: with IWRR, one more query when a prompt or a query finishes
    /// while the busiest layer's expected KV use is at most the feed high-water mark; with the
    /// KV-blind policies, a finished query is replaced.
    mutating func feedOffline(queryFinished: Bool) {
        guard config.mode == .offline, now <= end else { return }
        let launch = config.routing == .iwrr && !config.closedLoop ? bottleneckKV() <= HelixConstants.feedHighWater : queryFinished
        if launch { schedule(now + HelixConstants.feedSpacingSeconds, .newRequest) }
    }

    /// Expected KV use of the busiest layer: per layer, promised over total entries of every node holding it.
    func bottleneckKV() -> Double {
        var free = [Double](repeating: 0, count: problem.numLayers), total = free
        for (j, node) in router.graph.nodes.enumerated() where node.kvCapacity > 0 && !node.layers.isEmpty {
            let k = Double(node.layers.count)
            for l in node.layers {
                free[l] += (node.kvCapacity - ledger.reserved(on: j)) / k
                total[l] += node.kvCapacity / k
            }
        }
        return zip(free, total).map { $1 > 0 ? 1 - $0 / $1 : 1 }.max() ?? 1
    }

    func report(wallSeconds: Double) -> SimulationReport {
        func percentiles(_ values: [Double]) -> [String: Double] {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return ["p50": 0, "p90": 0, "p99": 0, "mean": 0] }
            func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] }
            return ["p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "mean": sorted.reduce(0, +) / Double(sorted.count)]
        }
        return SimulationReport(mode: config.mode, routing: config.routing, decodeTokensPerSecond: Double(decodeTokensInWindow) / config.measureSeconds,
                                finishedRequests: finished, promptLatency: percentiles(promptLatencies), decodeLatency: percentiles(decodeLatencies),
                                simulatedSeconds: min(now, end), wallSeconds: wallSeconds, events: events,
                                nodes: usage.report(problem: problem, placement: placement, window: config.measureSeconds))
    }
}

/// A binary min-heap of events.
struct EventHeap {
    var items: [SimulationEngine.Event] = []

    mutating func push(_ e: SimulationEngine.Event) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if items[i] < items[p] { items.swapAt(i, p); i = p } else { break }
        }
    }

    mutating func pop() -> SimulationEngine.Event? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
