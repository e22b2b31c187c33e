import Foundation
import Routing

/// Discrete-event simulation of serving a placement (spec §6). Nodes batch FIFO work (prompts up
/// to the node's request limit and 2048 tokens per request, decodes up to its token limit) and
/// run it through their layers; links take latency + bytes / bandwidth and carry one transfer at
/// a time; routes come from the shared routing core (IWRR over the runtime max-flow, or Swarm,
/// random, shortest-queue, within each node's KV-cache room), driven on simulated time; a
/// request is one prompt iteration and then one iteration per output token along the same route.
public enum Simulator {
    public static func run(problem: PlacementProblem, placement: Placement, connectivity: Connectivity, workload: Workload,
                           config: SimulationConfig, dataDirectory: String = SharedData.directory) throws -> SimulationReport {
        try run(problem: problem, placement: placement, connectivity: connectivity, workload: workload, config: config,
                profiles: try GPUProfile.loadAll(problem: problem, dataDirectory: dataDirectory))
    }

    public static func run(problem: PlacementProblem, placement: Placement, connectivity: Connectivity, workload: Workload,
                           config: SimulationConfig, profiles: [String: GPUProfile]) throws -> SimulationReport {
        try placement.validate(for: problem)
        let flows = FlowScorer.runtimeFlow(problem, placement, connectivity)
        guard flows.value > 0 else { throw PlacementError(section: "placement", "serves nothing: its max flow is zero") }
        var engine = SimulationEngine(problem: problem, placement: placement, flows: flows, connectivity: connectivity, workload: workload, config: config)
        engine.profileCurves = profiles
        let clock = Clock()
        engine.run()
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
        var arrival = 0.0
    }

    struct WorkItem { var request: Int; var hop: Int; var tokens: Int; var isPrompt: Bool }

    struct Event: Comparable {
        var time: Double
        var seq: Int
        var kind: Kind
        enum Kind { case nodeDone(Int), arrive(request: Int, hop: Int), newRequest }
        static func < (a: Event, b: Event) -> Bool { a.time != b.time ? a.time < b.time : a.seq < b.seq }
        static func == (a: Event, b: Event) -> Bool { a.time == b.time && a.seq == b.seq }
    }

    let problem: PlacementProblem
    let placement: Placement
    let config: SimulationConfig
    let workload: Workload
    var rng: SeededRandom
    var heap = EventHeap()
    var seq = 0
    var now = 0.0
    var events = 0

    // Routing (the same core the live scheduler uses) and the KV promised per node.
    var router: Router
    var ledger = KVLedger<Int, Int>()
    var queue: [[WorkItem]]
    var busy: [Bool]
    var inFlight: [[WorkItem]]
    var linkFree: [String: Double] = [:]
    var requests: [Request] = []
    var waiting: [Int] = []
    var active = 0
    var nextWorkload = 0
    // Measurements.
    var decodeTokensInWindow = 0
    var finished = 0
    var promptLatencies: [Double] = []
    var decodeLatencies: [Double] = []
    var usage = UsageMeter()

    init(problem: PlacementProblem, placement: Placement, flows: FlowResult, connectivity: Connectivity, workload: Workload, config: SimulationConfig) {
        self.problem = problem
        self.placement = placement
        self.config = config
        self.workload = workload
        rng = SeededRandom(seed: config.seed)
        let n = problem.nodes.count
        // Nodes are named by index, as in the runtime flow; an unplaced node holds no layers.
        let nodes = (0..<n).map { i -> RoutingNode in
            let node = problem.nodes[i]
            guard let range = placement.ranges[i], range.count > 0 else { return RoutingNode(name: "\(i)", layers: 0..<0, kvCapacity: 0) }
            let k = range.count
            return RoutingNode(name: "\(i)", layers: range.start..<range.end, kvCapacity: Double(node.kvCapacity[min(k, node.kvCapacity.count) - 1]),
                               promptLimit: node.promptMaxRequests[min(k, node.promptMaxRequests.count) - 1] * 2048)
        }
        let arcs = flows.arcFlows.map { FlowArc(from: $0.from, to: $0.to, flow: $0.tokensPerSecond) }
        let graph = FlowGraph(nodes: nodes, arcs: arcs, layerCount: problem.numLayers, partial: connectivity == .partial)
        router = Router(graph: graph, policy: config.routing, kv: config.mode == .online ? .online : .offline, seed: config.seed)
        queue = Array(repeating: [], count: n)
        busy = Array(repeating: false, count: n)
        inFlight = Array(repeating: [], count: n)
    }

    var end: Double { config.warmupSeconds + config.measureSeconds }

    mutating func schedule(_ time: Double, _ kind: Event.Kind) {
        seq += 1
        heap.push(Event(time: time, seq: seq, kind: kind))
    }

    mutating func run() {
        switch config.mode {
        case .offline:
            for _ in 0..<20 { admitNew() }
        case .online:
            scheduleArrivals()
        }
        while let event = heap.pop() {
            if event.time > end { break }
            if usage.nextSample <= event.time {
                usage.sampleKV(upTo: event.time, used: router.graph.nodes.indices.map { ledger.reserved(on: $0) },
                               capacity: router.graph.nodes.map(\.kvCapacity), window: config.warmupSeconds...end)
            }
            now = event.time
            events += 1
            switch event.kind {
            case .newRequest: admitNew()
            case .arrive(let r, let hop): arrive(request: r, hop: hop)
            case .nodeDone(let i): nodeDone(i)
            }
        }
    }

    /// Online arrivals: the trace's per-bucket rates rescaled so that tokens arrive at the target rate.
    mutating func scheduleArrivals() {
        let rate = config.onlineTokenRate ?? max(1, defaultOnlineRate())
        for t in workload.arrivalTimes(tokenRate: rate, duration: end, using: &rng) { schedule(t, .newRequest) }
    }

    func defaultOnlineRate() -> Double {
        // Half of the decode-token rate the flow could carry: flow counts prompt + decode tokens.
        let flow = router.graph.successors[router.graph.source].reduce(0) { $0 + $1.flow }
        return 0.5 * flow
    }

    mutating func admitNew() {
        let w = nextWorkload % workload.inputLengths.count
        nextWorkload += 1
        var request = Request(input: workload.inputLengths[w], output: workload.outputLengths[w])
        request.arrival = now
        requests.append(request)
        let r = requests.count - 1
        if !route(r) { waiting.append(r) }
    }

    /// Routes the request and reserves KV on every hop; false if no route has room now.
    mutating func route(_ r: Int) -> Bool {
        let ledger = self.ledger, queue = self.queue
        guard case .success(let path) = router.route(prompt: requests[r].input, maxTokens: nil, reserved: { ledger.reserved(on: $0) },
                                                     queueLength: { queue[$0].count }) else { return false }
        self.ledger.reserve(r, Router.reservation(path))
        requests[r].path = path
        active += 1
        startIteration(r)
        return true
    }

    mutating func startIteration(_ r: Int) {
        requests[r].iterationStart = now
        let isPrompt = requests[r].produced == 0
        let tokens = isPrompt ? requests[r].input : 1
        if !isPrompt { router.chargeDecode(requests[r].path) }
        // Source → first hop carries token ids.
        let first = requests[r].route[0]
        let arrive = transfer(from: problem.nodes.count, to: first, bytes: Double(tokens) * problem.model.tokenSize)
        schedule(arrive, .arrive(request: r, hop: 0))
    }

    /// Time the transfer completes; one transfer at a time per directed link.
    mutating func transfer(from: Int, to: Int, bytes: Double) -> Double {
        let key = "\(from)>\(to)"
        let link = linkOf(from: from, to: to)
        let start = max(now, linkFree[key] ?? 0)
        let done = start + bytes / link.bandwidth
        linkFree[key] = done
        return done + link.latency
    }

    func linkOf(from: Int, to: Int) -> (bandwidth: Double, latency: Double) {
        let n = problem.nodes.count
        let a: Endpoint = from == n ? .source : .node(from)
        let b: Endpoint = to == n ? .sink : .node(to)
        if let arc = problem.arcs.first(where: { $0.from == a && $0.to == b }) { return (arc.bandwidthBytesPerSecond, arc.latencySeconds) }
        return (1e9, 0.001)
    }

    mutating func arrive(request r: Int, hop: Int) {
        let isPrompt = requests[r].produced == 0
        let j = requests[r].route[hop]
        queue[j].append(WorkItem(request: r, hop: hop, tokens: isPrompt ? requests[r].input : 1, isPrompt: isPrompt))
        if !busy[j] { startBatch(j) }
    }

    mutating func startBatch(_ j: Int) {
        guard !queue[j].isEmpty, let range = placement.ranges[j] else { return }
        let node = problem.nodes[j]
        let maxPrompts = node.promptMaxRequests[min(range.count, node.promptMaxRequests.count) - 1]
        let decodeLimit = 380
        var batch: [WorkItem] = [], rest: [WorkItem] = []
        var prompts = 0, promptTokens = 0, decodes = 0, maxLayers = 0
        for item in queue[j] {
            let layers = range.end - requests[item.request].path.steps[item.hop].layers.lowerBound
            if item.isPrompt {
                if prompts < maxPrompts && promptTokens + item.tokens <= maxPrompts * 2048 || batch.isEmpty {
                    prompts += 1; promptTokens += item.tokens; batch.append(item); maxLayers = max(maxLayers, layers)
                } else { rest.append(item) }
            } else if decodes < decodeLimit {
                decodes += 1; batch.append(item); maxLayers = max(maxLayers, layers)
            } else { rest.append(item) }
        }
        queue[j] = rest
        let profile = problemProfile(j)
        var layerTime = (promptTokens > 0 ? profile.prompt(Double(promptTokens)) : 0) + (decodes > 0 ? profile.decode(Double(decodes)) : 0)
        if decodes == 1 && promptTokens == 0 { layerTime *= 2 }
        let tokens = Double(promptTokens + decodes)
        let overhead = tokens * problem.model.activationSize / 4e9 + tokens * problem.model.activationSize / 5e9
        busy[j] = true
        inFlight[j] = batch
        let finish = now + Double(maxLayers) * layerTime + overhead
        usage.busy(j, from: now, to: finish, window: config.warmupSeconds...end, nodes: problem.nodes.count)
        schedule(finish, .nodeDone(j))
    }

    /// Per-layer time of node j, from its throughput table's profile curves.
    func problemProfile(_ j: Int) -> (prompt: (Double) -> Double, decode: (Double) -> Double) {
        let curves = profileCurves[problem.nodes[j].type]
        return ({ curves?.prompt.seconds($0) ?? 0.01 }, { curves?.decode.seconds($0) ?? 0.01 })
    }

    var profileCurves: [String: GPUProfile] = [:]

    mutating func nodeDone(_ j: Int) {
        busy[j] = false
        let batch = inFlight[j]
        inFlight[j] = []
        for item in batch {
            let r = item.request
            let isLast = item.hop == requests[r].route.count - 1
            if isLast {
                let done = transfer(from: j, to: problem.nodes.count, bytes: problem.model.tokenSize)
                finishIteration(r, at: done)
            } else {
                let next = requests[r].route[item.hop + 1]
                let bytes = Double(item.tokens) * (problem.model.activationSize + problem.model.tokenSize)
                if config.routing == .swarm {
                    router.observe(requests[r].path, hop: item.hop + 1, tokensPerSecond: Double(item.tokens) / max(1e-6, now - requests[r].iterationStart))
                }
                schedule(transfer(from: j, to: next, bytes: bytes), .arrive(request: r, hop: item.hop + 1))
            }
        }
        startBatch(j)
    }

    mutating func finishIteration(_ r: Int, at time: Double) {
        let latency = time - requests[r].iterationStart
        let measuring = time >= config.warmupSeconds && time <= end
        if requests[r].produced == 0 {
            if measuring { promptLatencies.append(latency) }
        } else {
            if measuring { decodeLatencies.append(latency); decodeTokensInWindow += 1 }
        }
        requests[r].produced += 1
        if requests[r].produced > requests[r].output {
            // Done: release KV on every hop, then let waiting requests in.
            ledger.release(r)
            active -= 1
            if measuring { finished += 1 }
            retryWaiting()
            if config.mode == .offline { refillOffline() }
            return
        }
        // The next iteration starts when this one's token arrives.
        let saved = now
        now = time
        startIteration(r)
        now = saved
    }

    mutating func retryWaiting() {
        var still: [Int] = []
        for r in waiting where !route(r) { still.append(r) }
        waiting = still
    }

    /// Offline: add a request whenever the busiest KV cache is at most 80% full.
    mutating func refillOffline() {
        var guardCount = 0
        while waiting.isEmpty && guardCount < 64 {
            let busiest = router.graph.nodes.indices.filter { router.graph.nodes[$0].kvCapacity > 0 }
                .map { ledger.reserved(on: $0) / router.graph.nodes[$0].kvCapacity }.max() ?? 1
            guard busiest <= 0.8 else { break }
            admitNew()
            guardCount += 1
        }
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
