import Client
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

    /// Waits until process `pid` has used `seconds` of CPU from now, or `limit` (scaled by
    /// TestTime) has passed; returns the CPU seconds it used. A loaded machine gives a process a
    /// fraction of a core, so a test waits on the work done, never on a fixed window.
    static func cpuUse(of pid: Int32, reaching seconds: Double, within limit: Duration) async throws -> Double {
        guard let start = cpuSeconds(pid) else { throw WiringError("process \(pid) is gone") }
        let deadline = ContinuousClock.now + TestTime.scaled(limit)
        var used = 0.0
        while used < seconds, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            used = (cpuSeconds(pid) ?? start) - start
        }
        return used
    }

    /// The CPU seconds process `pid` uses over the next `window` of wall time.
    static func cpuUse(of pid: Int32, over window: Duration) async throws -> Double {
        guard let start = cpuSeconds(pid) else { throw WiringError("process \(pid) is gone") }
        try await Task.sleep(for: window)
        guard let end = cpuSeconds(pid) else { throw WiringError("process \(pid) is gone") }
        return end - start
    }

    /// Waits until the service's pool runs none of its jobs (`<what>_running` in its Stats, e.g.
    /// "solves"), at most `limit` (scaled); returns the last count seen.
    static func jobsRunning(_ what: String, _ service: ServiceName, client: ServiceClient, settlingWithin limit: Duration) async throws -> Double? {
        let stats = try await eventually(within: limit) { try await client.stats(service) } until: { $0[extra: "\(what)_running"] == 0 }
        return stats[extra: "\(what)_running"]
    }
}

struct WiringError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
