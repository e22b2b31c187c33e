import Foundation
import LatticeTesting

/// Shared data and helpers for the placement and circuit service tests.
enum WiringFixtures {
    /// $LATTICE_SHARED_DATA, else shared/data beside the clone (CI) or one level further up (a worktree).
    static let dataDirectory: String = {
        if let env = ProcessInfo.processInfo.environment["LATTICE_SHARED_DATA"], !env.isEmpty { return env }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for up in [root.deletingLastPathComponent(), root.deletingLastPathComponent().deletingLastPathComponent()] {
            let candidate = up.appendingPathComponent("shared/data").path
            if FileManager.default.fileExists(atPath: candidate + "/helix") { return candidate }
        }
        return root.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }()

    /// What a service needs to find the same data.
    static var environment: [String: String] { ["LATTICE_SHARED_DATA": dataDirectory] }

    static func text(_ relative: String) throws -> String {
        try String(contentsOfFile: "\(dataDirectory)/\(relative)", encoding: .utf8)
    }

    /// User plus system CPU seconds a process has used so far (Linux /proc).
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the name: state is field 3, utime 14 and stime 15 (1-based over the whole line).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
