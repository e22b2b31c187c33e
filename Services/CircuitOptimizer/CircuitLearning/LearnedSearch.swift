import CircuitCore
import Foundation
import Tensor

/// Search with a trained policy: the non-learned best-first search (`WindowedSearch`) and the policy's
/// walks (`PolicyWalks`) take turns on the budget in slices, and share the best circuit: whatever one
/// finds, the other goes on from. Each slice goes to the one that reduced the cost faster in its last
/// slice; when neither did, to the one below its share of the time (`searchShare` for the search).
/// The search runs first (it finds the many short reductions fastest; the walks alone fell behind it,
/// 32.1% against 33.6% at 20 s on 8 Nam circuits), and an exhausted search gives all its time to the walks.
/// The search keeps its queue between slices; a windowed search (large circuits) spreads a turn over its
/// windows, so its first turn is its whole share of the budget. The optimizer verifies whatever this returns.
public struct LearnedSearch: LearnedSearchStage {
    public let checkpoint: Checkpoint
    public let rules: RuleSet
    public var seed: UInt64 = 1
    /// Trajectories per core per round.
    public var trajectoriesPerRound = 4
    /// The search's share of the time when neither it nor the walks are reducing the cost
    /// (0: the walks alone; 1: the search alone until it has exhausted its space).
    public var searchShare = 0.5
    /// A slice is this share of the budget, at least `shortestSlice` seconds.
    public var sliceShare = 0.1
    public var shortestSlice = 2.0
    /// Fine-tune once this many moves have been collected (0: never).
    public var fineTuneEvery = 256
    /// Most of the walks' time that fine-tuning may take (a PPO update costs as much as hundreds of
    /// moves; beyond this share the walks go on with the moves collected so far).
    public var fineTuneShare = 0.25
    /// Told, when the search ends, how each side spent its turns.
    public var onFinish: (@Sendable (Summary) -> Void)? = nil

    public struct Summary: Sendable, CustomStringConvertible {
        public var moves = 0
        /// Rounds of walks that started from a circuit above the best (excursions).
        public var excursionRounds = 0
        public var walkSeconds = 0.0
        public var searchSeconds = 0.0
        /// Cost reductions found on each side's turns.
        public var walkGain = 0
        public var searchGain = 0
        public var description: String {
            String(format: "walks: %d moves in %.1f s (%.0f moves/s, %d excursion rounds), cost -%d; best-first search: %.1f s, cost -%d",
                   moves, walkSeconds, Double(moves) / max(walkSeconds, 1e-9), excursionRounds, walkGain, searchSeconds, searchGain)
        }
    }

    public init(checkpoint: Checkpoint, rules: RuleSet) {
        self.checkpoint = checkpoint
        self.rules = rules
    }

    /// Who gets the next slice.
    enum Turn: Equatable { case search, walks }

    /// How the slices went so far: each side's seconds and cost reduction per second in its last slice.
    struct Record {
        var seconds: [Turn: Double] = [:]
        var rate: [Turn: Double] = [:]
    }

    static func next(_ record: Record, searchShare: Double, searchExhausted: Bool) -> Turn {
        if searchShare <= 0 || searchExhausted { return .walks }
        if searchShare >= 1 { return .search }
        guard let s = record.rate[.search] else { return .search }
        guard let w = record.rate[.walks] else { return .walks }
        if s != w { return s > w ? .search : .walks }
        let searchSeconds = record.seconds[.search, default: 0], walkSeconds = record.seconds[.walks, default: 0]
        return searchSeconds < searchShare * (searchSeconds + walkSeconds) ? .search : .walks
    }

    public func run(_ start: Circuit, cost: CostKind, deadline: Deadline, rotationMerging: Bool,
                    improved: (Int) -> Void) -> Circuit {
        var search = WindowedSearch(start, rules: rules, cost: cost, rotationMerging: rotationMerging)
        var walks = PolicyWalks(start, model: checkpoint.model, engine: RewriteEngine(rules: rules.rules), cost: cost,
                                rotationMerging: rotationMerging, seed: seed, trajectoriesPerRound: trajectoriesPerRound,
                                fineTuneEvery: fineTuneEvery, fineTuneShare: fineTuneShare)
        var best = start, bestCost = start.cost(cost)
        let slice = max(shortestSlice, deadline.remaining * sliceShare)
        var record = Record()
        var summary = Summary()
        while !deadline.expired {
            let turn = Self.next(record, searchShare: searchShare, searchExhausted: search.exhausted)
            let t = Deadline.now(), before = bestCost
            let first = turn == .search && search.windowed && record.seconds[.search] == nil
            let length = first ? deadline.remaining * searchShare : slice
            let until = Deadline(seconds: min(length, deadline.remaining), cancelled: { deadline.expired })
            switch turn {
            case .search:
                search.run(until: until, improved: improved)
                if search.best.cost(cost) < bestCost { best = search.best; bestCost = best.cost(cost); walks.offer(best) }
            case .walks:
                walks.run(until: until, improved: improved)
                if walks.bestCost < bestCost { best = walks.best; bestCost = walks.bestCost; search.offer(best) }
            }
            let seconds = Deadline.now() - t
            if turn == .walks { summary.walkGain += before - bestCost } else { summary.searchGain += before - bestCost }
            record.seconds[turn, default: 0] += seconds
            record.rate[turn] = Double(before - bestCost) / max(seconds, 1e-3)
        }
        summary.moves = walks.moves
        summary.excursionRounds = walks.excursionRounds
        summary.walkSeconds = walks.walking
        summary.searchSeconds = record.seconds[.search, default: 0]
        onFinish?(summary)
        return best
    }
}
