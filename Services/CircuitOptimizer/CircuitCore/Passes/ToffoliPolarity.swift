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

    /// Expands every ccz with the decomposition chosen for it; `deadline` bounds the searches.
    public static func expand(_ c: Circuit, deadline: Deadline) -> Circuit {
        let toffolis = c.gates.indices.filter { c.gates[$0].kind == .ccz }
        guard !toffolis.isEmpty else { return c }
        var choice = [Choice](repeating: Choice(), count: toffolis.count)
        // Polarity alone changes only the signs of each Toffoli's rotations, so it is chosen on the phase
        // polynomial (`PolarityModel`), where a flip is scored by the few terms it touches.
        if !deadline.expired {
            var model = PolarityModel(c, toffolis)
            model.minimize(deadline: deadline)
            for k in choice.indices where model.flipped[k] { choice[k].polarity = .negative }
        }
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
                            if half.expired { return relativePairs(c, toffolis, choice, deadline: deadline) }
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
        return relativePairs(c, toffolis, choice, deadline: deadline)
    }

    /// Tries each pair of successive Toffolis on the same three qubits in the relative-phase form: the
    /// first with its cz after it, the second mirrored (cz before it) with the opposite sign, for every
    /// choice of target and cz partner (in a fixed order, so that ties break the same way every run);
    /// keeps the best when the pass loop makes the circuit smaller. One Toffoli alone in that form only
    /// grows, so the pair is the smallest move that can pay. (Pairs sharing only two qubits were tried:
    /// no smaller result on 10 Nam circuits, and they can take a Toffoli its same-qubit partner needs.)
    static func relativePairs(_ c: Circuit, _ toffolis: [Int], _ start: [Choice], deadline: Deadline) -> Circuit {
        var choice = start
        let budget = Deadline(seconds: deadline.remaining / 3, cancelled: { deadline.expired })
        func gates(_ p: [Choice]) -> Int { NamPipeline.simplify(expanded(c, toffolis, p), deadline: budget, resynthesis: false).gateCount }
        let qubits = toffolis.map { Set(c.gates[$0].qubits) }
        // Scored only once a pair is found: most circuits have none, and one pass loop on a large one is seconds.
        var best: Int?
        for i in toffolis.indices where choice[i].czSign == 0 {
            guard let j = ((i + 1)..<toffolis.count).first(where: { qubits[$0] == qubits[i] }), choice[j].czSign == 0 else { continue }
            if best == nil { best = gates(choice) }
            let shared = qubits[i].sorted()
            let (keepI, keepJ) = (choice[i], choice[j])
            var winner = (keepI, keepJ)
            for target in shared {
                for partner in shared where partner != target {
                    for sign in [1, -1] {
                        if budget.expired { (choice[i], choice[j]) = winner; return expanded(c, toffolis, choice) }
                        choice[i] = Choice(polarity: keepI.polarity, reversed: false,
                                           roles: roles(c.gates[toffolis[i]].qubits, partner, target), czSign: sign)
                        choice[j] = Choice(polarity: keepJ.polarity, reversed: true,
                                           roles: roles(c.gates[toffolis[j]].qubits, partner, target), czSign: -sign)
                        let s = gates(choice)
                        if s < best ?? .max { best = s; winner = (choice[i], choice[j]) }
                    }
                }
            }
            (choice[i], choice[j]) = winner
        }
        return expanded(c, toffolis, choice)
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
