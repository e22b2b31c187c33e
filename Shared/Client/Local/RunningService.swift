import Foundation
import Wire

/// One service process started on loopback with `--listen HOST:0`, and the address it picked.
public struct RunningService: Sendable, Codable, Equatable {
    /// "placement", "scheduler", "circuit", "worker-1", ...
    public var role: String
    public var service: ServiceName
    public var pid: Int32
    public var address: String
    public var logPath: String
    public var outputPath: String

    /// Starts the service and waits (up to `timeout`) for its `listening HOST:PORT` line.
    /// If it exits or stays silent, it is stopped and the error carries its log's tail.
    public static func launch(
        _ service: ServiceName, role: String, binaries: ServiceBinaries, arguments: [String] = [],
        environment: [String: String] = [:], logDirectory: String, host: String = "127.0.0.1",
        timeout: Duration = .seconds(30)
    ) async throws -> RunningService {
        var started = try spawn(service, role: role, binaries: binaries, arguments: arguments,
                                environment: environment, logDirectory: logDirectory, host: host)
        do {
            started.address = try await awaitListening(started, timeout: timeout)
            return started
        } catch {
            _ = await ChildProcess.stop(started.pid, timeout: .seconds(2))
            throw error
        }
    }

    /// Starts the process only; `address` stays empty until `awaitListening`.
    public static func spawn(
        _ service: ServiceName, role: String, binaries: ServiceBinaries, arguments: [String],
        environment: [String: String], logDirectory: String, host: String
    ) throws -> RunningService {
        let executable = try binaries.path(for: service)
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        let logPath = "\(logDirectory)/\(role).log"
        let outputPath = "\(logDirectory)/\(role).out"
        for path in [logPath, outputPath] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let listen = host.contains(":") ? "[\(host)]:0" : "\(host):0"
        let pid = try ChildProcess.spawn(
            executable: executable, arguments: ["--listen", listen] + arguments, environment: launchEnvironment(environment),
            stdoutPath: outputPath, stderrPath: logPath)
        return RunningService(role: role, service: service, pid: pid, address: "", logPath: logPath, outputPath: outputPath)
    }

    /// A service's environment: this process's, plus the cluster secret and API key file made for
    /// this process (`provision`) when neither gives a secret (a test's launcher), and the caller's
    /// `environment` over both: a key file the caller names is the one the service reads, also on
    /// the start that provisions (it lost to the provisioned one there, so a test passed only
    /// after another had started a service).
    static func launchEnvironment(
        _ environment: [String: String], inherited: [String: String] = ProcessInfo.processInfo.environment,
        provision: () -> [String: String] = StackCredentials.ensureForThisProcess
    ) -> [String: String] {
        var merged = inherited
        let secretGiven = ["LATTICE_CLUSTER_SECRET_FILE", "LATTICE_CLUSTER_SECRET"].contains { environment[$0] != nil || inherited[$0] != nil }
        if !secretGiven { merged.merge(provision()) { _, provisioned in provisioned } }
        merged.merge(environment) { _, given in given }
        return merged
    }

    /// Reads the address from the process's stdout file once it prints `listening HOST:PORT`.
    public static func awaitListening(_ process: RunningService, timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let text = TextFile.read(process.outputPath),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening ") }) {
                return String(line.dropFirst("listening ".count)).trimmingCharacters(in: .whitespaces)
            }
            switch ChildProcess.poll(process.pid) {
            case .ended(let end):
                throw LocalClusterError("\(process.role) (\(process.service.executableName)) \(end) before listening; its log \(process.logPath) ends:\n\(ChildProcess.tail(process.logPath))")
            case .notOurChild where !ChildProcess.isRunning(process.pid):
                throw LocalClusterError("\(process.role) (\(process.service.executableName)) ended before listening; its log \(process.logPath) ends:\n\(ChildProcess.tail(process.logPath))")
            default:
                break
            }
            if ContinuousClock.now >= deadline {
                throw LocalClusterError("\(process.role) (\(process.service.executableName), pid \(process.pid)) printed no 'listening' line within \(timeout); its log \(process.logPath) ends:\n\(ChildProcess.tail(process.logPath))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The process is alive and still runs this service's executable.
    public var isRunning: Bool { ChildProcess.isRunning(pid, executableName: service.executableName) }

    /// SIGTERM, then SIGKILL after `timeout`; the exit status when this process started it.
    public func stop(timeout: Duration = .seconds(10)) async -> (status: ExitStatus?, killed: Bool) {
        await ChildProcess.stop(pid, executableName: service.executableName, timeout: timeout)
    }
}
