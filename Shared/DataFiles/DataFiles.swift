import Foundation

/// Finds the data Lattice ships (Helix profiles, clusters, workload) from any working directory.
public enum DataFiles {
    /// The data folder holding `relative` (e.g. "helix/profiles"): `$LATTICE_SHARED_DATA` when set,
    /// else the repository's own `Shared/Data` (or a `shared/data` beside it) found by walking up
    /// from the working directory and from the running executable (`.build/debug/...`).
    public static func directory(containing relative: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                                 workingDirectory: String = FileManager.default.currentDirectoryPath) -> String? {
        if let fromEnvironment = environment["LATTICE_SHARED_DATA"], !fromEnvironment.isEmpty { return fromEnvironment }
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent().path
        for start in [workingDirectory, executable] {
            var folder = URL(fileURLWithPath: start).standardized
            for _ in 0..<8 {
                for name in ["Shared/Data", "shared/data"] {
                    let candidate = folder.appendingPathComponent(name)
                    if FileManager.default.fileExists(atPath: candidate.appendingPathComponent(relative).path) { return candidate.path }
                }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        return nil
    }
}
