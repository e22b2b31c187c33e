/// The non-learned preprocessing of Nam et al.: Toffoli polarity choice, then Hadamard reduction,
/// gate cancellation and rotation merging repeated until nothing changes.
public enum NamPipeline {
    /// Optimizes a circuit given in any qelib1 gates; the result is in {h, x, rz, cx} (plus fences).
    public static func run(_ input: Circuit, deadline: Deadline) -> Circuit {
        let withCCZ = Decompose.toNam(input, keepCCZ: true)
        let expanded = ToffoliPolarity.expand(withCCZ, deadline: deadline)
        return simplify(expanded, deadline: deadline)
    }

    /// The pass loop on a circuit already in {h, x, rz, cx}.
    public static func simplify(_ c: Circuit, deadline: Deadline) -> Circuit {
        var dag = CircuitDAG(c)
        var last = dag.liveCount
        for _ in 0..<50 {
            HadamardReduction.run(&dag)
            Cancellation.singleQubit(&dag)
            Cancellation.twoQubit(&dag)
            RotationMerging.run(&dag)
            Cancellation.singleQubit(&dag)
            Cancellation.twoQubit(&dag)
            dag = dag.compacted()
            if dag.liveCount >= last || deadline.expired { break }
            last = dag.liveCount
        }
        return dag.circuit()
    }
}
