import Client
import Foundation
import LatticeTesting

/// Runs the built `lattice` executable and collects its exit status and output.
struct CLIRun: Sendable {
    var status: ExitStatus?
    var stdout: String
    var stderr: String

    static func lattice(
        _ arguments: [String], in directory: String, environment: [String: String] = [:], timeout: Duration = .seconds(90)
    ) async throws -> CLIRun {
        let timeout = TestTime.scaled(timeout)
        let arguments = withScaledTimeout(arguments)
        let binaries = try LatticeTesting.binaries()
        let executable = "\(binaries.directory)/lattice"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw LocalClusterError("lattice is missing from \(binaries.directory); run `swift build` first")
        }
        let out = "\(directory)/cli-\(UUID().uuidString.prefix(6)).out"
        let err = out + ".err"
        let pid = try ChildProcess.spawn(
            executable: executable, arguments: arguments,
            environment: ProcessInfo.processInfo.environment.merging(["LATTICE_BIN_DIR": binaries.directory].merging(environment) { _, new in new }) { _, new in new },
            stdoutPath: out, stderrPath: err)
        guard let end = await ChildProcess.waitForExit(pid, timeout: timeout) else {
            _ = await ChildProcess.stop(pid, timeout: .seconds(1))
            throw LocalClusterError("lattice \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        defer { for path in [out, err] { try? FileManager.default.removeItem(atPath: path) } }
        return CLIRun(
            status: end.status,
            stdout: TextFile.read(out) ?? "",
            stderr: TextFile.read(err) ?? "")
    }

    /// The CLI's own waits, scaled by TestTime unless the test sets `--timeout`: `up`'s for the
    /// stack to serve, `down`'s before SIGKILL.
    static let defaultTimeouts = ["up": 60.0, "down": 10.0]

    static func withScaledTimeout(_ arguments: [String]) -> [String] {
        guard TestTime.scale > 1, let command = arguments.first, let seconds = defaultTimeouts[command],
              !arguments.contains("--timeout") else { return arguments }
        return arguments + ["--timeout", "\(TestTime.seconds(seconds))"]
    }
}
