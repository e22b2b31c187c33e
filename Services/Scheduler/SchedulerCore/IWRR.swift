/// Interleaved weighted round-robin over one node's outgoing arcs (spec §5): an arc's share
/// of the work follows its flow. `choose` picks the arc minimising `load + w/flow`, then
/// charges it `w/flow`.
public struct IWRR: Sendable, Equatable {
    public private(set) var loads: [String: Double] = [:]

    public init() {}

    /// The candidate (target, flow) that would finish `weight` soonest; nil when none has flow.
    public func pick(_ candidates: [(target: String, flow: Double)], weight: Double) -> String? {
        var best: (target: String, cost: Double)?
        for candidate in candidates where candidate.flow > 0 {
            let cost = (loads[candidate.target] ?? 0) + weight / candidate.flow
            if let current = best, current.cost <= cost { continue }
            best = (candidate.target, cost)
        }
        return best?.target
    }

    /// Candidates best first (the order `pick` prefers them in).
    public func ranked(_ candidates: [(target: String, flow: Double)], weight: Double) -> [(target: String, flow: Double)] {
        candidates.filter { $0.flow > 0 }.enumerated().sorted { a, b in
            let costA = (loads[a.element.target] ?? 0) + weight / a.element.flow
            let costB = (loads[b.element.target] ?? 0) + weight / b.element.flow
            return costA < costB || (costA == costB && a.offset < b.offset)
        }.map(\.element)
    }

    /// Charges `weight` tokens to the arc toward `target`.
    public mutating func charge(_ target: String, weight: Double, flow: Double) {
        guard flow > 0 else { return }
        loads[target, default: 0] += weight / flow
    }

    /// Picks and charges in one step.
    public mutating func choose(_ candidates: [(target: String, flow: Double)], weight: Double) -> String? {
        guard let target = pick(candidates, weight: weight), let flow = candidates.first(where: { $0.target == target })?.flow else { return nil }
        charge(target, weight: weight, flow: flow)
        return target
    }
}
