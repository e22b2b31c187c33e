import Wire

extension PlacementMethod {
    /// The names users type (`lattice plan --method`, `scheduler-service --plan-method`), in wire order.
    public static let names: [(name: String, method: PlacementMethod)] = [
        ("auto", .auto), ("milp", .milp), ("heuristic", .heuristic), ("petals", .petals), ("swarm", .swarm), ("sp", .separatePipelines),
    ]

    /// The method a user's name stands for (case-insensitive), or nil.
    public init?(name: String) {
        guard let found = Self.names.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = found.method
    }
}
