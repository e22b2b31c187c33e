/// The non-learned preprocessing of Nam et al.: Toffoli polarity choice, then Hadamard reduction,
/// gate cancellation and rotation merging repeated until nothing changes; compute/uncompute pairs of
/// Toffoli groups are also tried in the relative-phase form (`RelativePhaseBlocks`).
public enum NamPipeline {
    /// Optimizes a circuit given in any qelib1 gates; the result is in {h, x, rz, cx} (plus fences).
    public static func run(_ input: Circuit, deadline: Deadline, rotationMerging: Bool = true) -> Circuit {
        let withCCZ = Decompose.toNam(input, keepCCZ: true)
        guard rotationMerging, let relative = RelativePhaseBlocks.run(withCCZ) else {
            return smallest(ToffoliPolarity.expansions(withCCZ, deadline: deadline), deadline: deadline, rotationMerging: rotationMerging)
        }
        // Compute/uncompute pairs in the relative-phase form, and the exact form: each gets half of the
        // time, the smaller result is kept (the relative form can take a Toffoli from a cheaper pairing).
        let half = Deadline(seconds: deadline.remaining / 2, cancelled: { deadline.expired })
        let fromRelative = smallest(ToffoliPolarity.expansions(relative, deadline: half), deadline: half, rotationMerging: true)
        let exact = smallest(ToffoliPolarity.expansions(withCCZ, deadline: deadline), deadline: deadline, rotationMerging: true)
        return fromRelative.gateCount < exact.gateCount ? fromRelative : exact
    }

    /// The smaller of the two expansions after `simplify` (the listed one wins ties).
    static func smallest(_ expansions: (listed: Circuit, restarted: Circuit?), deadline: Deadline, rotationMerging: Bool) -> Circuit {
        let listed = simplify(expansions.listed, deadline: deadline, rotationMerging: rotationMerging)
        guard let other = expansions.restarted else { return listed }
        let restarted = simplify(other, deadline: deadline, rotationMerging: rotationMerging)
        return restarted.gateCount < listed.gateCount ? restarted : listed
    }

    /// The pass loop on a circuit already in {h, x, rz, cx}, then cx+rz resynthesis of its Hadamard-free
    /// regions and the pair-term network (`PairNetwork`) while either makes it smaller; `rotationMerging: false` leaves both phase-polynomial passes out
    /// (for measuring what a search finds without them).
    /// `resynthesis: false` runs the pass loop alone (cheaper, for scoring many candidates).
    public static func simplify(_ c: Circuit, deadline: Deadline, rotationMerging: Bool = true, resynthesis: Bool = true) -> Circuit {
        var dag = CircuitDAG(c)
        for _ in 0..<4 {
            passes(&dag, deadline: deadline, rotationMerging: rotationMerging)
            guard rotationMerging && resynthesis && !deadline.expired else { break }
            let current = dag.circuit()
            let resynthesized = DihedralResynthesis.run(current)
            if resynthesized.gateCount < current.gateCount { dag = CircuitDAG(resynthesized); continue }
            guard let paired = pairNetwork(current, deadline: deadline) else { return current }
            dag = paired
        }
        return dag.circuit()
    }

    /// The circuit with its input-pair rotations built as one network (`PairNetwork`), after the pass loop,
    /// when that is smaller; nil otherwise.
    static func pairNetwork(_ c: Circuit, deadline: Deadline) -> CircuitDAG? {
        guard let moved = PairNetwork.run(c) else { return nil }
        var dag = CircuitDAG(moved)
        passes(&dag, deadline: deadline, rotationMerging: true)
        return dag.liveCount < c.gateCount ? dag : nil
    }

    static func passes(_ dag: inout CircuitDAG, deadline: Deadline, rotationMerging: Bool) {
        var last = dag.liveCount
        for _ in 0..<50 {
            HadamardReduction.run(&dag, deadline: deadline)
            Cancellation.singleQubit(&dag, deadline: deadline)
            Cancellation.twoQubit(&dag, deadline: deadline)
            // Rotation merging is one sweep that must finish; skip it when time is up.
            if rotationMerging && !deadline.expired { RotationMerging.run(&dag) }
            Cancellation.singleQubit(&dag, deadline: deadline)
            Cancellation.twoQubit(&dag, deadline: deadline)
            if deadline.expired { break }
            dag = dag.compacted()
            if dag.liveCount >= last || deadline.expired { break }
            last = dag.liveCount
        }
    }
}
