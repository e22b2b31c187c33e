import DeterministicRandom

/// Chooses how each ccz is decomposed: the sign pattern (polarity), so that phase folding removes the
/// most rotations (Quartz tries both per Toffoli, greedily, keeping the smaller), then the orientation
/// (forward or mirrored) and which qubit plays which role (ccz is symmetric in its three qubits), so that
/// the cx of neighbouring Toffolis cancel; last, for pairs of Toffolis on the same three qubits, whether both
/// take the relative-phase form, whose cz terms cancel between them (2 cx fewer per pair).
public enum ToffoliPolarity {
    struct Choice: Equatable {
        var polarity: Polarity = .positive
        var reversed = false
        var roles = 0   // which of the 6 orderings of the three qubits
        /// 0: the plain 6-cx form; ±1: the relative-phase form (`Decompose.relativeCCZ`) with this cz sign.
        var czSign = 0
    }

    static let orderings = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]

    /// Expands every ccz with the decomposition chosen for it, searched from the roles the input lists;
    /// `deadline` bounds the searches.
    public static func expand(_ c: Circuit, deadline: Deadline) -> Circuit {
        expansions(c, deadline: deadline, restarts: 0).listed
    }

    /// The expansion searched from the qubit order the input lists, and, when restarts found one the pass
    /// loop alone leaves smaller, that one. The polarity, orientation and role choices are greedy searches
    /// whose ties break by the order the input happens to list each ccz's qubits in (ccz is symmetric, so
    /// that order is arbitrary), and which local optimum they end in depends on it. So they run again on
    /// copies of the circuit with each ccz's qubits listed in a random order (`restarts`, within
    /// `restartShare` of the time). Both are returned because the pass loop alone is the score here: the
    /// caller's resynthesis and pair network may still favour the first (gf2^5_mult: 267 gates from the
    /// listed order, 279 from three other orders).
    public static func expansions(_ c: Circuit, deadline: Deadline,
                                  restarts: Int = defaultRestarts) -> (listed: Circuit, restarted: Circuit?) {
        guard c.gates.contains(where: { $0.kind == .ccz }) else { return (c, nil) }
        let total = deadline.remaining, began = Deadline.now()
        let first = search(c, deadline: deadline)
        let took = Deadline.now() - began
        let restartDeadline = Deadline(seconds: min(deadline.remaining, total * restartShare), cancelled: { deadline.expired })
        var rng = SplitMix64(seed: restartSeed)
        var best: (circuit: Circuit, gates: Int)?
        // A restart is begun only when one as long as the first search fits: a cut one is rarely better.
        for _ in 0..<restarts where restartDeadline.remaining > took {
            let relisted = c.withGates(c.gates.map { g in g.kind == .ccz ? Gate(.ccz, g.qubits.shuffled(using: &rng)) : g })
            let found = search(relisted, deadline: restartDeadline)
            if found.gates < best?.gates ?? first.gates { best = found }
        }
        return (first.circuit, best?.circuit)
    }

    /// Polarity, then orientation and roles, then relative-phase pairs, with ties broken by the listed order;
    /// the expansion and its gate count after the pass loop.
    static func search(_ c: Circuit, deadline: Deadline) -> (circuit: Circuit, gates: Int) {
        let toffolis = c.gates.indices.filter { c.gates[$0].kind == .ccz }
        var start = [Choice](repeating: Choice(), count: toffolis.count)
        // Polarity alone changes only the signs of each Toffoli's rotations, so it is chosen on the phase
        // polynomial (`PolarityModel`), where a flip is scored by the few terms it touches.
        if !deadline.expired {
            var model = PolarityModel(c, toffolis)
            model.minimize(deadline: deadline)
            for k in start.indices where model.flipped[k] { start[k].polarity = .negative }
        }
        let found = localSearch(c, toffolis, from: start, deadline: deadline)
        return (expanded(c, toffolis, found.choice), found.gates)
    }

    /// Restarts after the first search. 15: of four listings of barenco_tof_4 (the input's and three
    /// random ones) one ended at 62 gates, the others at 64, and of four of barenco_tof_10 one at 224, the
    /// others at 232-233; at one in four, 15 restarts all miss with probability 0.75^15 ≈ 1.3%.
    public static let defaultRestarts = 15
    /// The restarts' share of the time they are given (the rest stays with the search after the passes).
    static let restartShare = 0.1
    static let restartSeed: UInt64 = 0x70ff_011

    /// Orientation and roles, then relative-phase pairs, from `start`; the choice and its gate count after
    /// the pass loop (an overestimate when the deadline cut the loop, so a cut search is never preferred).
    static func localSearch(_ c: Circuit, _ toffolis: [Int], from start: [Choice], deadline: Deadline) -> (choice: [Choice], gates: Int) {
        var choice = start
        // Orientation and roles are judged by the whole pass loop; give them at most half of what is left.
        let half = Deadline(seconds: deadline.remaining / 2, cancelled: { deadline.expired })
        func gates(_ p: [Choice]) -> Int { NamPipeline.simplify(expanded(c, toffolis, p), deadline: half, resynthesis: false).gateCount }
        var best = gates(choice)
        // First round: roles and orientation with the polarity found above; later rounds (while they
        // still help and time is left) also let the polarity change.
        for round in 0..<4 {
            var improved = false
            for i in choice.indices {
                let keep = choice[i]
                var winner = keep
                for polarity in round == 0 ? [keep.polarity] : [Polarity.positive, .negative] {
                    for roles in 0..<orderings.count {
                        for reversed in [false, true] {
                            let candidate = Choice(polarity: polarity, reversed: reversed, roles: roles)
                            if candidate == keep { continue }
                            if half.expired {
                                choice[i] = winner
                                return relativePairs(c, toffolis, choice, gates: best, deadline: deadline)
                            }
                            choice[i] = candidate
                            let s = gates(choice)
                            if s < best { best = s; winner = candidate; improved = true }
                        }
                    }
                }
                choice[i] = winner
            }
            if !improved { break }
        }
        return relativePairs(c, toffolis, choice, gates: best, deadline: deadline)
    }

    /// Tries each pair of successive Toffolis on the same three qubits in the relative-phase form: the
    /// first with its cz after it, the second mirrored (cz before it) with the opposite sign, for every
    /// choice of target and cz partner (in a fixed order, so that ties break the same way every run);
    /// keeps the best when the pass loop makes the circuit smaller. One Toffoli alone in that form only
    /// grows, so the pair is the smallest move that can pay. (Pairs sharing only two qubits were tried:
    /// no smaller result on 10 Nam circuits, and they can take a Toffoli its same-qubit partner needs.)
    static func relativePairs(_ c: Circuit, _ toffolis: [Int], _ start: [Choice], gates known: Int,
                              deadline: Deadline) -> (choice: [Choice], gates: Int) {
        var choice = start
        let budget = Deadline(seconds: deadline.remaining / 3, cancelled: { deadline.expired })
        func gates(_ p: [Choice]) -> Int { NamPipeline.simplify(expanded(c, toffolis, p), deadline: budget, resynthesis: false).gateCount }
        let qubits = toffolis.map { Set(c.gates[$0].qubits) }
        var best = known
        for i in toffolis.indices where choice[i].czSign == 0 {
            guard let j = ((i + 1)..<toffolis.count).first(where: { qubits[$0] == qubits[i] }), choice[j].czSign == 0 else { continue }
            let shared = qubits[i].sorted()
            let (keepI, keepJ) = (choice[i], choice[j])
            var winner = (keepI, keepJ)
            for target in shared {
                for partner in shared where partner != target {
                    for sign in [1, -1] {
                        if budget.expired { (choice[i], choice[j]) = winner; return (choice, best) }
                        choice[i] = Choice(polarity: keepI.polarity, reversed: false,
                                           roles: roles(c.gates[toffolis[i]].qubits, partner, target), czSign: sign)
                        choice[j] = Choice(polarity: keepJ.polarity, reversed: true,
                                           roles: roles(c.gates[toffolis[j]].qubits, partner, target), czSign: -sign)
                        let s = gates(choice)
                        if s < best { best = s; winner = (choice[i], choice[j]) }
                    }
                }
            }
            (choice[i], choice[j]) = winner
        }
        return (choice, best)
    }

    /// The ordering that puts `a` first and `target` last among a ccz's qubits (both are among them).
    static func roles(_ q: [Int], _ a: Int, _ target: Int) -> Int {
        orderings.firstIndex { q[$0[0]] == a && q[$0[2]] == target } ?? 0
    }

    static func expanded(_ c: Circuit, _ toffolis: [Int], _ choice: [Choice]) -> Circuit {
        expandedWithOwners(c, toffolis, choice).circuit
    }

    /// The expansion, and per gate the index of the Toffoli it comes from (-1: a gate of the input).
    static func expandedWithOwners(_ c: Circuit, _ toffolis: [Int], _ choice: [Choice]) -> (circuit: Circuit, owners: [Int]) {
        var out: [Gate] = [], owners: [Int] = []
        out.reserveCapacity(c.gates.count + 12 * toffolis.count)
        owners.reserveCapacity(out.capacity)
        var k = 0
        for (i, g) in c.gates.enumerated() {
            if k < toffolis.count && toffolis[k] == i {
                let o = orderings[choice[k].roles]
                let (a, b, t, p) = (g.qubits[o[0]], g.qubits[o[1]], g.qubits[o[2]], choice[k].polarity)
                let gates = choice[k].czSign == 0 ? Decompose.ccz(a, b, t, p, reversed: choice[k].reversed)
                    : Decompose.relativeCCZ(a, b, t, p, czSign: choice[k].czSign, reversed: choice[k].reversed)
                out += gates
                owners += Array(repeating: k, count: gates.count)
                k += 1
            } else {
                out.append(g)
                owners.append(-1)
            }
        }
        return (c.withGates(out), owners)
    }
}
