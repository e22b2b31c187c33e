import Foundation

extension ServingModel {
    /// The serving model for planning `problem`: each node type's latency profile is its own
    /// measured one (`measured`, workers that timed themselves) or the GPU profile in the data
    /// directory. Nil when some type has neither (nominal CPU-style nodes, whose objective only
    /// compares placements): such problems are planned for the max-flow objective.
    public static func forPlanning(problem: PlacementProblem, connectivity: Connectivity, dataDirectory: String = SharedData.directory,
                                   measured: [String: GPUProfile] = [:]) -> ServingModel? {
        var profiles = measured
        for node in problem.nodes where profiles[node.type] == nil {
            let machine = MachineType.builtin[node.type] ?? MachineType(name: node.type, vramBytes: 0, nicInBytesPerSecond: node.nicInBytesPerSecond,
                                                                         nicOutBytesPerSecond: node.nicOutBytesPerSecond)
            guard let profile = try? GPUProfile.load(type: node.type, model: problem.model, machine: machine, dataDirectory: dataDirectory) else { return nil }
            profiles[node.type] = profile
        }
        return try? ServingModel(problem: problem, connectivity: connectivity, profiles: profiles)
    }
}

extension SolveOptions {
    /// Sets what the plan maximises. `lattice plan` and the placement-service's Plan both come
    /// here, so the same cluster, method, budget and seed are planned alike: `.serving` (their
    /// default) needs `serving`, and without one the plan is for the max-flow objective.
    /// Returns the objective in effect.
    @discardableResult
    public mutating func use(_ objective: PlacementObjective, serving model: ServingModel?, decodeLatencyBound: Double? = nil) -> PlacementObjective {
        guard objective == .serving, let model else {
            serving = nil
            self.decodeLatencyBound = nil
            return .flow
        }
        serving = model
        self.decodeLatencyBound = decodeLatencyBound
        return .serving
    }
}
