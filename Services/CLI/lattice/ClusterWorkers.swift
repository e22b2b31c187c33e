import ArgumentParser
import PlacementCore
import WorkerCore

/// The workers a cluster file describes, as `lattice up --cluster` starts them: a node whose type
/// is a GPU with a Helix profile (A100-40G, L4, T4x2, …) becomes an emulated worker of that GPU;
/// a node of type CPU or CPU-<threads> becomes a cpu worker with that many BLAS threads.
struct ClusterWorkers {
    enum Kind: Equatable {
        case emulated(gpu: String)
        case cpu(threads: Int)
    }

    var names: [String]
    var kinds: [Kind]
    /// Whether the file declares links (`--emulate-links` needs some).
    var declaresLinks: Bool

    init(path: String) throws {
        let cluster: Cluster
        do { cluster = try ClusterLoader.load(path: path) } catch {
            throw ValidationError("--cluster \(path): \(error)")
        }
        names = cluster.nodes.map(\.name)
        declaresLinks = !cluster.links.isEmpty
        kinds = try cluster.nodes.map { node in
            if let gpu = EmulatedGPU.canonical(node.type) { return .emulated(gpu: gpu) }
            let upper = node.type.uppercased()
            if upper == "CPU" { return .cpu(threads: 1) }
            if upper.hasPrefix("CPU-"), let threads = Int(upper.dropFirst(4)), threads >= 1 { return .cpu(threads: threads) }
            throw ValidationError("--cluster \(path): node \(node.name) has type '\(node.type)'; use a GPU type (\(EmulatedGPU.names.joined(separator: ", "))) or CPU-<threads>")
        }
        let emulated = kinds.filter { if case .emulated = $0 { true } else { false } }.count
        guard emulated == 0 || emulated == kinds.count else {
            throw ValidationError("--cluster \(path): mixes emulated GPU nodes and CPU nodes; they serve different models, so use one kind per cluster")
        }
    }

    var isEmulated: Bool { kinds.first.map { if case .emulated = $0 { true } else { false } } ?? false }

    /// The flags of worker `number` (1-based): its id and what it runs on.
    func arguments(_ number: Int) -> [String] {
        guard kinds.indices.contains(number - 1) else { return [] }
        let id = ["--worker-id", names[number - 1]]
        switch kinds[number - 1] {
        case .emulated(let gpu): return id + ["--backend", "emulated", "--gpu", gpu]
        case .cpu(let threads): return id + ["--threads", "\(threads)"]
        }
    }
}
