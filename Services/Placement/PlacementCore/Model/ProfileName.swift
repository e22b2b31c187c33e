/// Names that become a folder under the profile data (GPU types, model profile names) come from
/// requests; they must stay names, never paths ("../x", "a/b", "/etc").
public enum ProfileName {
    /// Throws unless `name` is 1...64 letters, digits, '-', '_' or '.', and not "." or "..".
    public static func validate(_ name: String, what: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard (1...64).contains(name.count), name.allSatisfy(allowed.contains), name != ".", name != ".." else {
            throw PlacementError(field: what, "'\(name)' is not a valid \(what): use 1 to 64 letters, digits, '-', '_' or '.' (a name, not a path)")
        }
    }
}
