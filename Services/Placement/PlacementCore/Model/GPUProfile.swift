import Foundation

/// Measured capacities of one GPU type running one model, per number of layers held (index k-1).
public struct GPUCapacityTable: Sendable, Equatable {
    public var maxLayers: Int
    /// KV cache capacity in token x layer entries when k layers are loaded.
    public var kvCapacity: [Int]
    /// Prompt requests per batch when k layers are loaded.
    public var promptMaxRequests: [Int]
    /// Decode sequences per batch when k layers are loaded (the artifact's decode_max_tokens);
    /// empty when not measured.
    public var decodeMaxTokens: [Int]

    public init(maxLayers: Int, kvCapacity: [Int], promptMaxRequests: [Int], decodeMaxTokens: [Int] = []) {
        self.maxLayers = maxLayers
        self.kvCapacity = kvCapacity
        self.promptMaxRequests = promptMaxRequests
        self.decodeMaxTokens = decodeMaxTokens
    }

    /// KV entries, prompt requests per batch and decode sequences per batch with k layers loaded
    /// (k clamped to the table). An unmeasured decode limit is `fallbackDecode`.
    public func kv(layers k: Int) -> Int { kvCapacity[max(1, min(k, kvCapacity.count)) - 1] }
    public func prompts(layers k: Int) -> Int { promptMaxRequests.isEmpty ? 1 : promptMaxRequests[max(1, min(k, promptMaxRequests.count)) - 1] }
    public func decodes(layers k: Int, fallbackDecode: Int) -> Int {
        decodeMaxTokens.isEmpty ? fallbackDecode : decodeMaxTokens[max(1, min(k, decodeMaxTokens.count)) - 1]
    }

    /// An estimate for a type with no measurements: weights take at most half of VRAM, the KV cache
    /// gets 90% of VRAM minus the weights, in blocks of 16 tokens, 2 x hidden x 2 bytes per token and layer.
    public static func estimate(machine: MachineType, model: ModelSpec) -> GPUCapacityTable {
        let maxLayers = max(0, min(model.numLayers, Int((machine.vramBytes / 2) / model.layerParamBytes)))
        let perTokenLayer = Double(2 * model.hiddenSize * model.dtypeBytes)
        let kv = (1...max(1, maxLayers)).map { k -> Int in
            let free = max(0, 0.9 * machine.vramBytes - Double(k) * model.layerParamBytes)
            return 16 * Int(free / (Double(k) * perTokenLayer * 16)) * k
        }
        return GPUCapacityTable(maxLayers: maxLayers, kvCapacity: kv, promptMaxRequests: Array(repeating: 1, count: kv.count))
    }
}

/// Milliseconds-per-layer profile of a GPU type, as (batch tokens, seconds) points.
public struct LatencyCurve: Sendable, Equatable {
    public var points: [(tokens: Int, seconds: Double)]

    public init(points: [(tokens: Int, seconds: Double)]) { self.points = points.sorted { $0.tokens < $1.tokens } }

    public static func == (a: LatencyCurve, b: LatencyCurve) -> Bool {
        a.points.count == b.points.count && zip(a.points, b.points).allSatisfy { $0.tokens == $1.tokens && $0.seconds == $1.seconds }
    }

    /// Linear interpolation between the neighbouring points (as the artifact does); linear
    /// extrapolation from the last two points beyond the table.
    public func seconds(_ tokens: Double) -> Double {
        guard let first = points.first, let last = points.last else { return 0 }
        if tokens <= Double(first.tokens) { return first.seconds }
        if tokens >= Double(last.tokens) {
            guard points.count >= 2 else { return last.seconds }
            let prev = points[points.count - 2]
            let slope = (last.seconds - prev.seconds) / Double(last.tokens - prev.tokens)
            return last.seconds + slope * (tokens - Double(last.tokens))
        }
        var lo = 0, hi = points.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if Double(points[mid].tokens) <= tokens { lo = mid } else { hi = mid }
        }
        let a = points[lo], b = points[hi]
        if Double(a.tokens) == tokens { return a.seconds }
        return a.seconds + (b.seconds - a.seconds) * (tokens - Double(a.tokens)) / Double(b.tokens - a.tokens)
    }

    static func load(path: String) throws -> LatencyCurve {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw PlacementError(file: path, "cannot read the profile (does it exist?)")
        }
        var points: [(Int, Double)] = []
        for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, let tokens = Int(fields[0]), let ms = Double(fields[1]), tokens >= 0, ms >= 0 else {
                if i == 0 { continue }  // a header line
                throw PlacementError(file: path, "line \(i + 1): expected 'tokens,milliseconds', found '\(line)'")
            }
            points.append((tokens, ms / 1000))
        }
        guard points.count >= 2 else { throw PlacementError(file: path, "needs at least two rows") }
        return LatencyCurve(points: points)
    }
}

/// Everything placement knows about one GPU type running one model.
public struct GPUProfile: Sendable, Equatable {
    public var type: String
    public var prompt: LatencyCurve
    public var decode: LatencyCurve
    public var capacity: GPUCapacityTable

    public init(type: String, prompt: LatencyCurve, decode: LatencyCurve, capacity: GPUCapacityTable) {
        self.type = type
        self.prompt = prompt
        self.decode = decode
        self.capacity = capacity
    }

    /// Loads `<dataDir>/helix/profiles/<model>/<type lowercased>/{prompt,decode}_bs2time.csv`.
    public static func load(type: String, model: ModelSpec, machine: MachineType, dataDirectory: String = SharedData.directory) throws -> GPUProfile {
        try ProfileName.validate(type, what: "GPU type")
        try ProfileName.validate(model.profileName, what: "model profile name")
        let dir = "\(dataDirectory)/helix/profiles/\(model.profileName)/\(type.lowercased())"
        guard FileManager.default.fileExists(atPath: dir) else {
            throw PlacementError(file: dir, "no profile for GPU type '\(type)' with model \(model.name) (expected prompt_bs2time.csv and decode_bs2time.csv here)")
        }
        let capacity = GPUCapacityTable.builtin[model.profileName]?[type] ?? .estimate(machine: machine, model: model)
        return GPUProfile(type: type, prompt: try .load(path: dir + "/prompt_bs2time.csv"),
                          decode: try .load(path: dir + "/decode_bs2time.csv"), capacity: capacity)
    }

    public static func loadAll(cluster: Cluster, model: ModelSpec, dataDirectory: String = SharedData.directory) throws -> [String: GPUProfile] {
        var profiles: [String: GPUProfile] = [:]
        for type in Set(cluster.nodes.map(\.type)) {
            guard let machine = cluster.machineTypes[type] else { throw PlacementError(field: "type", "unknown machine type '\(type)'") }
            profiles[type] = try load(type: type, model: model, machine: machine, dataDirectory: dataDirectory)
        }
        return profiles
    }

    /// Profiles for every type in a problem (the simulator needs the latency curves).
    public static func loadAll(problem: PlacementProblem, dataDirectory: String = SharedData.directory) throws -> [String: GPUProfile] {
        var profiles: [String: GPUProfile] = [:]
        for node in problem.nodes where profiles[node.type] == nil {
            let machine = MachineType.builtin[node.type] ?? MachineType(name: node.type, vramBytes: 0, nicInBytesPerSecond: node.nicInBytesPerSecond,
                                                                         nicOutBytesPerSecond: node.nicOutBytesPerSecond)
            profiles[node.type] = try load(type: node.type, model: problem.model, machine: machine, dataDirectory: dataDirectory)
        }
        return profiles
    }
}
