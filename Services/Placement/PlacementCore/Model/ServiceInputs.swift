import Foundation

// Inputs that arrive as text or as structured values (over the wire) rather than as files.

extension HelixClusterImport {
    /// A Helix cluster `.ini` from its text; `source` names it in errors.
    public static func parse(text: String, source: String, name: String, machineTypes: [String: MachineType]) throws -> Cluster {
        try parse(IniFile(text: text, path: source), name: name, machineTypes: machineTypes)
    }
}

extension TypeThroughput {
    /// A machine type with no measured GPU profile (e.g. a CPU worker): it holds as many layers as
    /// half its memory allows (all of them when its memory is unknown), and its throughput is a
    /// nominal `layerTokensPerSecond / k` — equal nodes then get equal shares of the model.
    /// Objectives over such nodes compare placements; they do not predict tokens/s.
    public static func unprofiled(type: String, model: ModelSpec, machine: MachineType, layerTokensPerSecond: Double = 100) -> TypeThroughput {
        let byMemory = machine.vramBytes > 0 ? Int((machine.vramBytes / 2) / model.layerParamBytes) : model.numLayers
        let maxLayers = max(1, min(model.numLayers, byMemory))
        let nicCap = min(machine.nicInBytesPerSecond, machine.nicOutBytesPerSecond) / model.activationSize
        let ks = Array(1...maxLayers)
        return TypeThroughput(type: type, maxLayers: maxLayers, tokensPerSecond: ks.map { min(layerTokensPerSecond / Double($0), nicCap) },
                              kvCapacity: ks.map { _ in 1 << 20 }, promptMaxRequests: ks.map { _ in 1 },
                              promptTypicalRequests: ks.map { _ in 1 }, promptTypicalTokens: ks.map { _ in 0 }, decodeTypicalTokens: ks.map { _ in 0 })
    }
}

extension PlacementProblem {
    /// The problem for a cluster already in memory: T(k) from our throughput model for every type
    /// with a GPU profile; types in `unprofiledTypes` (e.g. "CPU") get `TypeThroughput.unprofiled`;
    /// types in `measured` (workers that timed themselves) use those profiles instead of files.
    public static func build(cluster: Cluster, model: ModelSpec, dataDirectory: String = SharedData.directory,
                             unprofiledTypes: Set<String> = [], measured: [String: GPUProfile] = [:]) throws -> PlacementProblem {
        var profiles: [String: GPUProfile] = [:]
        for type in Set(cluster.nodes.map(\.type)).subtracting(unprofiledTypes).subtracting(measured.keys) {
            guard let machine = cluster.machineTypes[type] else { throw PlacementError(field: "type", "unknown machine type '\(type)'") }
            profiles[type] = try GPUProfile.load(type: type, model: model, machine: machine, dataDirectory: dataDirectory)
        }
        let profiledMix = cluster.typeCounts.filter { profiles[$0.key] != nil }
        var tables = profiledMix.isEmpty ? [:]
            : try ThroughputModel.tables(model: model, mix: profiledMix, profiles: profiles, machines: cluster.machineTypes)
        for type in unprofiledTypes where cluster.typeCounts[type] != nil {
            guard let machine = cluster.machineTypes[type] else { throw PlacementError(field: "type", "unknown machine type '\(type)'") }
            tables[type] = .unprofiled(type: type, model: model, machine: machine)
        }
        for (type, profile) in measured where cluster.typeCounts[type] != nil {
            guard let machine = cluster.machineTypes[type] else { throw PlacementError(field: "type", "unknown machine type '\(type)'") }
            tables[type] = .measured(profile, model: model, machine: machine)
        }
        return try PlacementProblem(cluster: cluster, model: model, tables: tables)
    }
}
