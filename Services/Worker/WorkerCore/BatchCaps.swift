import PlacementCore

/// How many prompts and decode steps one batch may hold, whatever their tokens. An emulated GPU
/// worker takes them from its type's measured capacities (PlacementCore's `GPUCapacityTable`,
/// the one table the simulator forms its batches with), so that live and simulated batches match.
public struct BatchCaps: Sendable, Equatable {
    public var prompts: Int
    public var decodes: Int

    public init(prompts: Int, decodes: Int) {
        self.prompts = max(1, prompts)
        self.decodes = max(1, decodes)
    }

    /// No cap beyond the batch's token budget (CPU workers).
    public static let unlimited = BatchCaps(prompts: .max, decodes: .max)
}

extension StageSettings {
    /// The batch caps by layers loaded: an emulated GPU's from its type's measured capacities
    /// (prompt requests and decode sequences per batch, as the simulator's batches use them);
    /// none for a CPU worker.
    public func batchCaps() throws -> @Sendable (Int) -> BatchCaps {
        guard backend == .emulated else { return { _ in .unlimited } }
        let model = try EmulatedModel.named(modelName ?? "")
        let type = EmulatedGPU.profileFolder(gpu)
        guard let table = GPUCapacityTable.measured(model: model.profileDirectory, type: type) else {
            throw WorkerError.invalidArgument("no measured batch capacities for GPU '\(gpu)' with \(model.name); known types: \(EmulatedGPU.names.joined(separator: ", "))")
        }
        return { layers in BatchCaps(prompts: table.prompts(layers: layers), decodes: table.decodes(layers: layers, fallbackDecode: .max)) }
    }
}
