/// Batched hops (`HopMessages.batch`), as the live workers send a batch's outputs: one message
/// per next node (a Forward carrying every request of the batch going there), one to the sink,
/// and one per first node for the decode steps the last hops loop back. A message's requests
/// arrive together, so the next node batches them together.
extension SimulationEngine {
    struct Arrival { var request: Int; var hop: Int }

    mutating func sendTogether(_ batch: [NodeBatch.Item], from j: Int) {
        let n = problem.nodes.count
        var onward: [Int: [NodeBatch.Item]] = [:], finishing: [NodeBatch.Item] = []
        for item in batch {
            let route = requests[item.request].route
            if item.hop == route.count - 1 { finishing.append(item) } else { onward[route[item.hop + 1], default: []].append(item) }
        }
        for (next, items) in onward.sorted(by: { $0.key < $1.key }) {
            let sent = transfer(from: j, to: next, bytes: items.reduce(0) { $0 + hopBytes($1.tokens) })
            for item in items { requests[item.request].hopSendStart = sent.start }
            schedule(sent.arrival, .arriveTogether(items.map { Arrival(request: $0.request, hop: $0.hop + 1) }))
        }
        guard !finishing.isEmpty else { return }
        let done = transfer(from: j, to: n, bytes: Double(finishing.reduce(0) { $0 + $1.tokens }) * problem.model.tokenSize)
        for item in finishing { finishIteration(item.request, at: done.arrival, loopsFrom: config.decodeLoop == .workers ? j : nil) }
        // The steps looped back to each first hop leave now, together.
        let outbox = loopOutbox
        loopOutbox = [:]
        for (first, looped) in outbox.sorted(by: { $0.key < $1.key }) {
            let sent = first == j ? (start: now, arrival: now) : transfer(from: j, to: first, bytes: Double(looped.count) * problem.model.tokenSize)
            for r in looped { requests[r].hopSendStart = sent.start }
            schedule(sent.arrival, .arriveTogether(looped.map { Arrival(request: $0, hop: 0) }))
        }
    }

    /// Requests that came in one message join the node's queue together; then it starts if idle.
    mutating func arriveTogether(_ arrivals: [Arrival]) {
        for a in arrivals { arrive(request: a.request, hop: a.hop, startsBatch: false) }
        let nodes = Set(arrivals.map { requests[$0.request].path.steps[$0.hop].node })
        for node in nodes.sorted() where !busy[node] { startBatch(node) }
    }
}
