extension GPUCapacityTable {
    /// The measured capacities of GPU type `type` running model profile `model` (as the profile
    /// folders name them: "llama2_70b", "a100", "t4x2"; any case), nil when not measured. The
    /// simulator's batches and the live emulated workers' batch caps both read this table.
    public static func measured(model: String, type: String) -> GPUCapacityTable? {
        builtin[model]?.first { $0.key.lowercased() == type.lowercased() }?.value
    }
}
