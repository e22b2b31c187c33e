/// The emulated GPU types, named as the cluster files and `lattice plan` name them.
public enum EmulatedGPU {
    public static let names = ["A100-40G", "L4", "L4x2", "T4", "T4x2", "T4x4", "V100"]
    /// Short names people also use for them.
    static let aliases = ["A100": "A100-40G", "A100-40GB": "A100-40G", "A100_40G": "A100-40G"]

    /// The type's canonical name (case-insensitive; aliases accepted), or nil if it is not one.
    public static func canonical(_ name: String) -> String? {
        let key = name.uppercased()
        if let alias = aliases[key] { return alias }
        return names.first { $0.uppercased() == key }
    }

    /// The profile folder of a type in the Helix data ("A100-40G" → "a100", "T4x2" → "t4x2").
    public static func profileFolder(_ name: String) -> String {
        guard let canonical = canonical(name) else { return name.lowercased() }
        return canonical == "A100-40G" ? "a100" : canonical.lowercased()
    }
}
