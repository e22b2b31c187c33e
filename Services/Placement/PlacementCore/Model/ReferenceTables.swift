import Foundation

/// Reads the artifact's `profiles/node_throughput_tables.json`: T(k), KV capacity and batch
/// limits per GPU type, as the artifact computed them for its published clusters.
public enum ReferenceTables {
    /// The key the artifact's table uses for a cluster file name, if it has one.
    public static func clusterKey(for clusterName: String) -> String? {
        switch clusterName {
        case "single24", "geo24", "3cluster24": "single24_or_3cluster24"
        case "cluster42": "cluster42"
        case "cluster10": "cluster10"
        default: nil
        }
    }

    public static func modelKey(for model: ModelSpec) -> String? {
        switch model.profileName {
        case "llama2_70b": "LLaMa70B"
        case "llama1_30b": "LLaMa30B"
        default: nil
        }
    }

    public struct Entry: Sendable {
        public var machineCounts: [String: Int]
        public var tables: [String: TypeThroughput]
    }

    public static func load(path: String, modelKey: String, clusterKey: String) throws -> Entry {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PlacementError(file: path, "cannot read the file (does it exist?)")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw PlacementError(file: path, "not a JSON object")
        }
        guard let model = root[modelKey] as? [String: Any] else {
            throw PlacementError(file: path, section: modelKey, "no such model in the tables")
        }
        guard let cluster = model[clusterKey] as? [String: Any] else {
            throw PlacementError(file: path, section: "\(modelKey).\(clusterKey)", "no such cluster in the tables")
        }
        let counts = (cluster["machine_num_dict"] as? [String: Int]) ?? [:]
        guard let gpus = cluster["gpus"] as? [String: Any] else {
            throw PlacementError(file: path, section: "\(modelKey).\(clusterKey)", field: "gpus", "missing")
        }
        var tables: [String: TypeThroughput] = [:]
        for (type, value) in gpus {
            let section = "\(modelKey).\(clusterKey).gpus.\(type)"
            guard let gpu = value as? [String: Any], let maxLayers = gpu["max_num_layers"] as? Int,
                  let perCount = gpu["per_layer_count"] as? [String: Any] else {
                throw PlacementError(file: path, section: section, "expected max_num_layers and per_layer_count")
            }
            var table = TypeThroughput(type: type, maxLayers: maxLayers, tokensPerSecond: [], kvCapacity: [], promptMaxRequests: [],
                                       promptTypicalRequests: [], promptTypicalTokens: [], decodeTypicalTokens: [])
            for k in 1...max(1, maxLayers) {
                guard let row = perCount["\(k)"] as? [String: Any],
                      let tps = (row["typical_token_throughput_tok_s"] as? NSNumber)?.doubleValue,
                      let kv = (row["kv_cache_capacity_tokens_x_layers"] as? NSNumber)?.intValue else {
                    throw PlacementError(file: path, section: section, field: "per_layer_count.\(k)", "missing or malformed")
                }
                table.tokensPerSecond.append(tps)
                table.kvCapacity.append(kv)
                table.promptMaxRequests.append((row["prompt_max_requests"] as? NSNumber)?.intValue ?? 1)
                table.promptTypicalRequests.append((row["prompt_typical_requests"] as? NSNumber)?.doubleValue ?? 0)
                table.promptTypicalTokens.append((row["prompt_typical_tokens"] as? NSNumber)?.intValue ?? 0)
                table.decodeTypicalTokens.append((row["decode_typical_tokens"] as? NSNumber)?.intValue ?? 0)
            }
            tables[type] = table
        }
        return Entry(machineCounts: counts, tables: tables)
    }
}
