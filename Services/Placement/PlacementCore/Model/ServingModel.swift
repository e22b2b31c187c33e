import Foundation

/// What a placement is predicted to serve: decode tokens/s and the latencies users see.
public struct ServingPrediction: Sendable, Equatable {
    public var decodeTokensPerSecond: Double
    /// Per-token round trip of a decode step, weighted by decode tokens.
    public var decodeLatencySeconds: Double
    /// Round trip of a mean prompt, weighted likewise.
    public var promptLatencySeconds: Double
    /// Pipelines (source→sink paths of the runtime max-flow) and their mean depth in hops.
    public var pipelines: Int
    public var meanDepth: Double
    /// Valid slow links the flow leaves unused (`SlowLinks`): another router's max-flow may use them.
    public var exposedSlowLinks = 0
    /// Σ N_p/τ_p, the population bound alone (the decode rate is the lesser of it and the flow's
    /// share per pipeline): where the flow caps two plans alike, the one with more here has more
    /// KV room per round trip to spare.
    public var populationBoundTokensPerSecond = 0.0
    /// The closed network's asymptotic bound, Σ min(flow share, N/τ) with τ free of prompt work (the
    /// decode rate above is the estimate below it, with prompt interference).
    public var boundTokensPerSecond = 0.0

    public static let none = ServingPrediction(decodeTokensPerSecond: 0, decodeLatencySeconds: 0, promptLatencySeconds: 0, pipelines: 0, meanDepth: 0)
}

/// A closed-network model of serving a placement, cheap enough to score every move of a search.
///
/// The runtime max-flow is split into pipelines (source→sink paths). For each pipeline p with
/// flow φ_p:
/// - **KV room** (Little's law): the requests it keeps in flight, N_p, are its flow share of what
///   the offline feeder admits (it stops while the busiest layer's expected KV use, summed over the
///   nodes holding that layer, is above 0.8: every request passes every layer), and at most what
///   every hop's share of its own KV cache holds: N_p ≤ min_j hwm·kv_j·(φ_p/f_j) / (len·layers_jp).
///   In our simulator decode tokens/s × mean decode step is 0.79–1.00 of that admitted count on
///   eight single24 layouts, so the decode rate is N/τ.
/// - **Latency**: one decode step is a round trip of the pipeline's requests as one wave,
///   τ_p = Σ_j layers_jp·t_d,j(n_j) + Σ links (latency + N_p activations/bandwidth + the host copy
///   of n_j activations + the wait behind prompt transfers on that link), where n_j is the decode
///   batch at j (all requests in flight through j). Every extra hop adds a link, a copy and a batch
///   wait, so τ grows with depth; a busy slow link (geo24's 12.5 MB/s between regions, where one
///   prompt's activations take ~1 s and a wave of 300 decodes ~0.4 s) adds seconds.
/// - **Prompt latency**: the unloaded path, or, where more is, the offline feeder's closed
///   population of prompts queued at the busiest node or link (`PromptDemand`): on geo24 a prompt
///   holds a 12.5 MB/s link ~1 s, and 20 of them in flight wait on each other there.
/// - **Decode tokens/s** = min(φ_p·out/(in+out), N_p/τ_p): the asymptotic bounds of a closed
///   queueing network (capacity, or population over round trip).
public struct ServingModel: Sendable {
    public let problem: PlacementProblem
    public let connectivity: Connectivity
    public let profiles: [String: GPUProfile]
    /// Mean input and output lengths of the Azure conversation trace (spec §6: 763 / 232).
    public var meanInput = 763.0
    public var meanOutput = 232.0
    /// KV high-water mark of offline scheduling (spec §5: 0.85); the scheduler reserves input + 240·1.0 per layer.
    public var kvHighWater = 0.85
    public var reservedOutput = 240.0
    /// Prompts in flight while the offline feeder fills the KV cache: each finished prompt launches
    /// the next (`OfflineRequestFeeder.check_launch_new_query`), so its initial queries stay a closed
    /// population of prompts until the busiest layer reaches the high-water mark, which on the three
    /// clusters takes longer than the warm-up and the measured window together.
    public var promptPopulation = Double(HelixConstants.helixInitialQueries)
    /// Whether prompt work at a node stretches the decode passes through it (`PromptInterference`).
    public var promptInterference = true

    /// The model the planner's judge climbs: the bound, prompt interference off (`Planner.servingJudge`).
    public var climbed: ServingModel {
        var model = self
        model.promptInterference = false
        return model
    }
    let slowLinks: SlowLinks

    public init(problem: PlacementProblem, connectivity: Connectivity, profiles: [String: GPUProfile]) throws {
        for node in problem.nodes where profiles[node.type] == nil {
            throw PlacementError(section: "node \(node.name)", field: "type", "no latency profile for type '\(node.type)'")
        }
        self.problem = problem
        self.connectivity = connectivity
        self.profiles = profiles
        slowLinks = SlowLinks(problem: problem)
    }

    struct Pipeline { var hops: [(node: Int, layers: Int)]; var flow: Double }

    public func predict(_ placement: Placement) -> ServingPrediction {
        // A placement for another cluster (e.g. before a node left) has nothing to predict here.
        guard placement.ranges.count == problem.nodes.count else { return .none }
        return predict(placement, flows: FlowScorer.runtimeFlow(problem, placement, connectivity))
    }

    /// The prediction with the router following `flows` (one of the placement's maximum flows: a
    /// placement has many, and a router serves by whichever its max-flow solver returned).
    public func predict(_ placement: Placement, flows: FlowResult) -> ServingPrediction {
        guard placement.ranges.count == problem.nodes.count, flows.value > 1e-9 else { return .none }
        let pipelines = decompose(flows, placement)
        guard !pipelines.isEmpty else { return .none }
        let n = problem.nodes.count
        var through = [Double](repeating: 0, count: n)
        for p in pipelines { for hop in p.hops { through[hop.node] += p.flow } }
        // In flight per pipeline: its flow share of what the busiest layer admits, and at most each
        // hop's share of its own KV room.
        let perRequest = meanInput + reservedOutput
        let admitted = admittedRequests(placement)
        let inFlight = pipelines.map { p in
            p.hops.map { hop -> Double in
                let node = problem.nodes[hop.node]
                guard let range = placement.ranges[hop.node], !node.kvCapacity.isEmpty else { return 0 }
                let kv = Double(node.kvCapacity[min(range.count, node.kvCapacity.count) - 1])
                return kvHighWater * kv * (p.flow / through[hop.node]) / (perRequest * Double(hop.layers))
            }.reduce(admitted * p.flow / flows.value, min)
        }
        var batch = [Double](repeating: 0, count: n)
        for (p, count) in zip(pipelines, inFlight) { for hop in p.hops { batch[hop.node] += count } }
        // Node-to-node links are queues: a decode activation waits behind the prompt transfers
        // sharing the link (M/G/1 mean wait λ_p·S_p² / 2(1−ρ), prompts dominating the service time).
        var carried: [Int: Double] = [:]
        for arc in flows.arcFlows { if let u = Int(arc.from), let v = Int(arc.to) { carried[u * (n + 1) + v, default: 0] += arc.tokensPerSecond } }
        func queueing(from u: Int, to v: Int) -> Double {
            guard u < n, v < n, let tokens = carried[u * (n + 1) + v] else { return 0 }
            let link = wire(from: u, to: v)
            let rho = min(0.99, tokens * link.activation)
            let promptTransfer = meanInput * link.activation
            let prompts = tokens / (meanInput + meanOutput)
            return prompts * promptTransfer * promptTransfer / (2 * (1 - rho))
        }
        // Prompts share each node with the decode waves (a node runs one batch at a time, prompts and
        // decodes mixed, `PromptInterference`): the node's prompt load stretches every decode pass through
        // it. The load follows from the decode rate (one prompt per meanOutput tokens), which the stretch
        // lowers, so the two are solved together (a contraction: each pass moves the rates less).
        var interference = PromptInterference(nodes: n)
        let bound = pipelineRates(pipelines, inFlight, batch: batch, queueing: queueing, interference: interference)
        var pass = bound
        for _ in 0..<(promptInterference ? 3 : 0) {
            interference = PromptInterference(nodes: n)
            for (p, rate) in zip(pipelines, pass.rates) {
                for hop in p.hops {
                    guard let profile = profiles[problem.nodes[hop.node].type] else { continue }
                    interference.add(node: hop.node, promptsPerSecond: rate / meanOutput,
                                     secondsPerPrompt: Double(hop.layers) * profile.prompt.seconds(meanInput))
                }
            }
            pass = pipelineRates(pipelines, inFlight, batch: batch, queueing: queueing, interference: interference)
        }
        let decode = pass.rates.reduce(0, +)
        var decodeLatency = 0.0, promptLatency = 0.0, depth = 0.0
        var prompts = PromptDemand()
        for (i, p) in pipelines.enumerated() {
            let share = p.flow / flows.value
            var previous = n  // n: the source
            for hop in p.hops {
                guard let profile = profiles[problem.nodes[hop.node].type] else { continue }
                let link = wire(from: previous, to: hop.node)
                prompts.add(node: hop.node, seconds: share * Double(hop.layers) * profile.prompt.seconds(meanInput))
                prompts.add(link: previous * (n + 1) + hop.node, seconds: share * link.activation * meanInput)
                previous = hop.node
            }
            decodeLatency += pass.rates[i] * pass.steps[i]
            promptLatency += pass.rates[i] * pass.prompts[i]
            depth += pass.rates[i] * Double(p.hops.count)
        }
        guard decode > 0 else { return .none }
        return ServingPrediction(decodeTokensPerSecond: decode, decodeLatencySeconds: decodeLatency / decode,
                                 promptLatencySeconds: prompts.latency(path: promptLatency / decode, population: promptPopulation), pipelines: pipelines.count, meanDepth: depth / decode,
                                 exposedSlowLinks: slowLinks.exposed(placement, connectivity, flows: flows), populationBoundTokensPerSecond: bound.population,
                                 boundTokensPerSecond: bound.rates.reduce(0, +))
    }

    /// Each pipeline's decode step and unloaded prompt path, its decode rate (the lesser of its flow's
    /// share and N/τ), and Σ N/τ, with every node's decode pass stretched by its prompt load.
    private func pipelineRates(_ pipelines: [Pipeline], _ inFlight: [Double], batch: [Double], queueing: (Int, Int) -> Double,
                               interference: PromptInterference) -> (rates: [Double], steps: [Double], prompts: [Double], population: Double) {
        let n = problem.nodes.count
        var rates: [Double] = [], steps: [Double] = [], promptPaths: [Double] = [], population = 0.0
        for (p, count) in zip(pipelines, inFlight) {
            var step = 0.0, prompt = 0.0, previous = n  // n: the source
            for hop in p.hops {
                guard let profile = profiles[problem.nodes[hop.node].type] else { continue }
                let link = wire(from: previous, to: hop.node)
                let wait = queueing(previous, hop.node)
                // A decode step moves the pipeline's requests as one wave: each hop receives all of
                // their activations over its link, and the node copies what it received.
                let pass = Double(hop.layers) * profile.decode.seconds(max(1, batch[hop.node].rounded())) + hostCopy(tokens: max(1, batch[hop.node]))
                step += pass * interference.stretch(node: hop.node) + link.latency + link.activation * max(1, count) + wait
                prompt += Double(hop.layers) * profile.prompt.seconds(meanInput) + link.latency + link.activation * meanInput
                    + hostCopy(tokens: meanInput) + wait
                previous = hop.node
            }
            if let last = p.hops.last?.node {
                let link = wire(from: last, to: n)
                step += link.latency
                prompt += link.latency
            }
            let populationRate = step > 0 ? count / step : 0
            population += populationRate
            rates.append(min(p.flow * meanOutput / (meanInput + meanOutput), populationRate))
            steps.append(step)
            promptPaths.append(prompt)
        }
        return (rates, steps, promptPaths, population)
    }

    /// Requests the offline feeder keeps in flight: it stops while the busiest layer's expected KV
    /// use (every request holding input + reserved output entries on every layer) is above the feed
    /// high-water mark, counting the room of every node that holds the layer.
    func admittedRequests(_ placement: Placement) -> Double {
        var room = [Double](repeating: 0, count: problem.numLayers)
        for (node, range) in zip(problem.nodes, placement.ranges) {
            guard let range, !node.kvCapacity.isEmpty else { continue }
            let perLayer = Double(node.kvCapacity[min(range.count, node.kvCapacity.count) - 1]) / Double(range.count)
            for layer in range.start..<min(range.end, problem.numLayers) { room[layer] += perLayer }
        }
        return HelixConstants.feedHighWater * (room.min() ?? 0) / (meanInput + reservedOutput)
    }

    /// Host-side seconds to take in `tokens` activations before a batch (concatenate, copy to the GPU).
    private func hostCopy(tokens: Double) -> Double {
        tokens * problem.model.activationSize * (1 / HelixConstants.concatBytesPerSecond + 1 / HelixConstants.copyBytesPerSecond)
    }

    /// Latency and seconds per activation of the link from a vertex (n = source) to a node or (n) the sink.
    private func wire(from: Int, to: Int) -> (latency: Double, activation: Double) {
        let n = problem.nodes.count
        let a: Endpoint = from == n ? .source : .node(from)
        let b: Endpoint = to == n ? .sink : .node(to)
        guard let arc = problem.arcs.first(where: { $0.from == a && $0.to == b }) else { return (0, 0) }
        let bytes = (a == .source || b == .sink) ? problem.model.tokenSize : problem.model.activationSize
        return (arc.latencySeconds, bytes / arc.bandwidthBytesPerSecond)
    }

    /// Splits the max-flow into source→sink paths, widest first (flows are acyclic: ends grow along arcs).
    func decompose(_ flows: FlowResult, _ placement: Placement) -> [Pipeline] {
        let n = problem.nodes.count
        var out = [[Int: Double]](repeating: [:], count: n + 2)  // n: source, n+1: sink
        func vertex(_ name: String) -> Int? { name == "source" ? n : name == "sink" ? n + 1 : Int(name) }
        for arc in flows.arcFlows {
            guard let u = vertex(arc.from), let v = vertex(arc.to), u <= n, v >= 0, v <= n + 1 else { continue }
            out[u][v, default: 0] += arc.tokensPerSecond
        }
        var pipelines: [Pipeline] = []
        let floor = flows.value * 1e-6
        while pipelines.count < 256 {
            var path = [n], bottleneck = Double.infinity, at = n
            while at != n + 1, path.count <= n + 2 {
                guard let next = out[at].filter({ $0.value > floor }).max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) else { break }
                bottleneck = min(bottleneck, next.value)
                path.append(next.key)
                at = next.key
            }
            guard at == n + 1, bottleneck.isFinite, bottleneck > floor else { break }
            for (u, v) in zip(path, path.dropFirst()) { out[u][v, default: 0] -= bottleneck }
            var hops: [(Int, Int)] = [], done = 0
            for j in path.dropFirst().dropLast() {
                guard let range = placement.ranges[j] else { continue }
                hops.append((j, max(1, range.end - done)))
                done = range.end
            }
            pipelines.append(Pipeline(hops: hops, flow: bottleneck))
        }
        return pipelines
    }
}
