import Routing
import Wire

/// One arc of the plan's flow ("source", a worker id or "sink" at either end): the routing core's arc.
public typealias PlanArc = FlowArc

/// Which layers each worker holds and the flow on every arc, as of one plan epoch.
public struct Plan: Sendable, Equatable {
    public var epoch: UInt64
    public var assignments: [String: Range<Int>]
    public var arcs: [PlanArc]
    public var objective: Double
    /// What produced the plan: "placement (…)" or "fallback: contiguous split".
    public var method: String

    public init(epoch: UInt64 = 0, assignments: [String: Range<Int>] = [:], arcs: [PlanArc] = [], objective: Double = 0, method: String = "none") {
        self.epoch = epoch
        self.assignments = assignments
        self.arcs = arcs
        self.objective = objective
        self.method = method
    }

    /// Arcs leaving `node`.
    public func arcs(from node: String) -> [PlanArc] { arcs.filter { $0.from == node } }

    /// The plan placement-service returned, with nodes named by worker id. Ranges outside the
    /// model or naming unknown workers are an error the caller logs before falling back.
    public init(placement result: PlanResult, layerCount: Int, workers: Set<String>, epoch: UInt64) throws {
        var assignments: [String: Range<Int>] = [:]
        for range in result.placement where range.end > range.start {
            guard workers.contains(range.nodeName) else { throw PlanError("placement names node '\(range.nodeName)', which is not a registered worker") }
            guard Int(range.end) <= layerCount else {
                throw PlanError("placement gives \(range.nodeName) layers [\(range.start), \(range.end)) but the model has \(layerCount)")
            }
            assignments[range.nodeName] = Int(range.start)..<Int(range.end)
        }
        let arcs = result.flows.filter { $0.tokensPerSecond > 0 }.map { PlanArc(from: $0.fromNode, to: $0.toNode, flow: $0.tokensPerSecond) }
        guard !assignments.isEmpty, arcs.contains(where: { $0.from == PlanArc.source }) else {
            throw PlanError("placement returned no layer ranges or no flow out of the source")
        }
        self.init(epoch: epoch, assignments: assignments, arcs: arcs, objective: result.objectiveTokensPerSecond,
                  method: "placement (\(result.stats?.methodUsed ?? "?"))")
    }
}

public struct PlanError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What a planner needs to know about a live worker.
public struct PlanCandidate: Sendable, Equatable {
    public var id: String
    public var layerCapacity: Int
    /// Relative speed (tokens/s or any consistent unit); layers are shared out in proportion.
    public var weight: Double

    public init(id: String, layerCapacity: Int, weight: Double) {
        self.id = id
        self.layerCapacity = layerCapacity
        self.weight = weight
    }
}

/// The plan used when placement-service is not configured or does not answer: the workers
/// (in registration order) form pipelines, each a contiguous split of the layers in proportion
/// to the workers' weights and within their layer capacity.
public enum FallbackPlanner {
    public static func plan(_ workers: [PlanCandidate], layerCount: Int, epoch: UInt64) -> Plan {
        let usable = workers.filter { $0.layerCapacity > 0 && $0.weight > 0 }
        guard layerCount > 0, !usable.isEmpty else { return Plan(epoch: epoch, method: "fallback: no usable workers") }
        // As many pipelines as can each cover the model, at most one worker per layer each.
        var pipelines: [[PlanCandidate]] = []
        for count in stride(from: max(1, (usable.count + layerCount - 1) / layerCount), through: 1, by: -1) {
            var groups = Array(repeating: [PlanCandidate](), count: count)
            for (i, worker) in usable.enumerated() { groups[i % count].append(worker) }
            groups = groups.map { Array($0.sorted { $0.layerCapacity > $1.layerCapacity }.prefix(layerCount)) }
            if groups.allSatisfy({ $0.reduce(0) { $0 + $1.layerCapacity } >= layerCount }) {
                pipelines = groups.map { group in usable.filter { w in group.contains { $0.id == w.id } } }
                break
            }
        }
        guard !pipelines.isEmpty else {
            let total = usable.reduce(0) { $0 + $1.layerCapacity }
            return Plan(epoch: epoch, method: "fallback: the workers hold \(total) layers together, the model has \(layerCount)")
        }
        var plan = Plan(epoch: epoch, method: "fallback: contiguous split")
        for pipeline in pipelines {
            let counts = split(layerCount, among: pipeline)
            var start = 0
            var previous = PlanArc.source
            // A pipeline's flow: its slowest stage, in the weights' unit per layer held.
            let flow = zip(pipeline, counts).map { $0.weight / Double(max($1, 1)) }.min() ?? 1
            for (worker, count) in zip(pipeline, counts) where count > 0 {
                plan.assignments[worker.id] = start..<(start + count)
                plan.arcs.append(PlanArc(from: previous, to: worker.id, flow: flow))
                previous = worker.id
                start += count
            }
            plan.arcs.append(PlanArc(from: previous, to: PlanArc.sink, flow: flow))
            plan.objective += flow
        }
        return plan
    }

    /// Layers per worker in proportion to weight: each at least 1, then one layer at a time to
    /// the worker furthest below its share, never above its capacity; sums to `layers` when the
    /// capacities allow (the caller checked) and there are no more workers than layers.
    static func split(_ layers: Int, among workers: [PlanCandidate]) -> [Int] {
        let total = workers.reduce(0) { $0 + $1.weight }
        let share = workers.map { Double(layers) * $0.weight / total }
        var counts = workers.map { min(1, $0.layerCapacity) }
        var assigned = counts.reduce(0, +)
        while assigned < layers {
            let open = workers.indices.filter { counts[$0] < workers[$0].layerCapacity }
            guard let i = open.max(by: { share[$0] - Double(counts[$0]) < share[$1] - Double(counts[$1]) }) else { break }
            counts[i] += 1
            assigned += 1
        }
        return counts
    }
}
