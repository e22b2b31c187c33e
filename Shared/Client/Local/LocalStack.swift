import Foundation
import Transport
import Wire

/// The whole stack as local processes on loopback, remembered in `<stateDirectory>/state.json`
/// (logs `<role>.log`, stdout `<role>.out` beside it): what `lattice up/down/status` do.
public struct LocalStack: Sendable {
    public let stateDirectory: String
    public var statePath: String { "\(stateDirectory)/state.json" }
    /// More local worker processes than this is a typo, not a test cluster.
    public static let maxWorkers = 256

    public init(stateDirectory: String) {
        // Absolute, so that the state file, `status --json` and error messages name real paths.
        self.stateDirectory = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
    }

    /// One process of the stack as `status` reports it.
    public struct Member: Sendable, Codable, Equatable {
        public var role: String
        public var service: String
        public var address: String
        public var pid: Int32
        public var running: Bool
        /// SERVING, DRAINING, NOT_SERVING, UNKNOWN, or "UNREACHABLE: why" / "NOT RUNNING".
        public var health: String
        public var log: String
        public var isHealthy: Bool { health == "SERVING" }
    }

    // MARK: up

    /// Starts placement, scheduler, circuit optimizer, then `workers` workers pointed at the
    /// scheduler; waits until every one answers SERVING. On any failure stops what it started.
    /// `schedulerArguments` and `workerArguments` are added to those processes' flags (the
    /// served model); the scheduler is also given `--placement` with the placement's address.
    /// `placementArguments` are placement-service's (its plans' simulated ranking).
    /// `eachWorker(n)` adds flags to worker n (1-based) alone: its id and kind in a cluster file.
    public func up(
        workers: Int, binaries: ServiceBinaries, timeout: Duration = .seconds(60),
        schedulerArguments: [String] = [], workerArguments: [String] = [], placementArguments: [String] = [],
        eachWorker: @Sendable (Int) -> [String] = { _ in [] },
        progress: @Sendable (String) -> Void = { _ in }
    ) async throws -> [Member] {
        guard (0...Self.maxWorkers).contains(workers) else {
            throw LocalClusterError("--workers must be 0 to \(Self.maxWorkers) on one machine (got \(workers))")
        }
        if let previous = try loadState() {
            let alive = previous.filter(\.isRunning)
            if !alive.isEmpty {
                throw LocalClusterError("a stack from \(statePath) is still running (\(alive.map { "\($0.role) pid \($0.pid)" }.joined(separator: ", "))); run `lattice down` first")
            }
            progress("removing stale state \(statePath) (its processes are gone)")
            try removeState()
        }
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let credentials = try StackCredentials.prepare(in: stateDirectory)

        var started: [RunningService] = []
        do {
            started.append(try spawn(.placement, role: "placement", binaries: binaries, arguments: placementArguments, credentials))
            try saveState(started)
            started[0].address = try await RunningService.awaitListening(started[0], timeout: timeout)
            try saveState(started)
            for (service, role, arguments) in [(ServiceName.scheduler, "scheduler", schedulerArguments + ["--placement", started[0].address]),
                                               (.circuit, "circuit", [])] {
                started.append(try spawn(service, role: role, binaries: binaries, arguments: arguments, credentials))
                try saveState(started)
            }
            for index in 1..<started.count {
                started[index].address = try await RunningService.awaitListening(started[index], timeout: timeout)
                try saveState(started)
            }
            let scheduler = started[1].address
            for number in stride(from: 1, through: workers, by: 1) {
                started.append(try spawn(.worker, role: "worker-\(number)", binaries: binaries, arguments: ["--scheduler", scheduler] + workerArguments + eachWorker(number), credentials))
                try saveState(started)
            }
            for index in 3..<started.count {
                started[index].address = try await RunningService.awaitListening(started[index], timeout: timeout)
                try saveState(started)
            }
            progress("waiting for \(started.count) services to report SERVING")
            try await awaitServing(started, timeout: timeout, credentials.cluster)
            return await members(started, credentials.cluster)
        } catch {
            for process in started { _ = await process.stop(timeout: .seconds(5)) }
            try? removeState()
            throw error
        }
    }

    private func spawn(_ service: ServiceName, role: String, binaries: ServiceBinaries, arguments: [String], _ credentials: StackCredentials) throws -> RunningService {
        try RunningService.spawn(service, role: role, binaries: binaries, arguments: arguments,
                                 environment: credentials.environment, logDirectory: stateDirectory, host: "127.0.0.1")
    }

    private func awaitServing(_ processes: [RunningService], timeout: Duration, _ credentials: Credentials) async throws {
        let deadline = ContinuousClock.now + timeout
        for process in processes {
            while true {
                let health = await Self.health(of: process, credentials)
                if health == "SERVING" { break }
                if !process.isRunning {
                    throw LocalClusterError("\(process.role) stopped while starting; its log \(process.logPath) ends:\n\(ChildProcess.tail(process.logPath))")
                }
                if ContinuousClock.now >= deadline {
                    throw LocalClusterError("\(process.role) at \(process.address) is not SERVING after \(timeout) (last: \(health)); see \(process.logPath)")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    // MARK: down

    /// What `down` did to one process.
    public struct Stopped: Sendable, Codable, Equatable {
        public var role: String
        public var pid: Int32
        /// "stopped", "killed after timeout", or "was not running".
        public var outcome: String
    }

    /// SIGTERM to every process, SIGKILL to any still alive after `timeout`; removes the state
    /// file and stdout files (logs stay for reading). Nil when there is no state file.
    public func down(timeout: Duration = .seconds(10)) async throws -> [Stopped]? {
        guard let processes = try loadState() else { return nil }
        let outcomes = await withTaskGroup(of: Stopped.self) { group in
            for process in processes {
                group.addTask {
                    guard process.isRunning else { return Stopped(role: process.role, pid: process.pid, outcome: "was not running") }
                    let result = await process.stop(timeout: timeout)
                    return Stopped(role: process.role, pid: process.pid, outcome: result.killed ? "killed after \(timeout)" : "stopped")
                }
            }
            var all: [Stopped] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        for process in processes { try? FileManager.default.removeItem(atPath: process.outputPath) }
        try removeState()
        let order = processes.map(\.role)
        return outcomes.sorted { (order.firstIndex(of: $0.role) ?? 0) < (order.firstIndex(of: $1.role) ?? 0) }
    }

    // MARK: status

    /// Every recorded process with its pid, liveness and health. Nil when there is no state file.
    public func status() async throws -> [Member]? {
        guard let processes = try loadState() else { return nil }
        return await members(processes, try StackCredentials.prepare(in: stateDirectory).cluster)
    }

    private func members(_ processes: [RunningService], _ credentials: Credentials) async -> [Member] {
        await withTaskGroup(of: (Int, Member).self) { group in
            for (index, process) in processes.enumerated() {
                group.addTask {
                    let running = process.isRunning
                    let health = running ? await Self.health(of: process, credentials) : "NOT RUNNING"
                    return (index, Member(role: process.role, service: process.service.displayName, address: process.address,
                                          pid: process.pid, running: running, health: health, log: process.logPath))
                }
            }
            var all: [(Int, Member)] = []
            for await member in group { all.append(member) }
            return all.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    static func health(of process: RunningService, _ credentials: Credentials) async -> String {
        guard !process.address.isEmpty else { return "UNREACHABLE: no address yet" }
        let client: ServiceClient
        do {
            var config = TransportConfig()
            config.credentials = credentials
            client = try ServiceClient(address: process.address, config: config, reconnect: .never)
        } catch {
            return "UNREACHABLE: \(error)"
        }
        let health: String
        do {
            health = try await client.health(process.service, deadline: .seconds(2)).status.description
        } catch {
            health = "UNREACHABLE: \(error)"
        }
        await client.close()
        return health
    }

    // MARK: state file

    func loadState() throws -> [RunningService]? {
        guard let data = FileManager.default.contents(atPath: statePath) else { return nil }
        do {
            return try JSONDecoder().decode(StateFile.self, from: data).processes
        } catch {
            throw LocalClusterError("\(statePath) is not a Lattice state file (\(error)); stop its processes by hand and delete it")
        }
    }

    func saveState(_ processes: [RunningService]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Write then rename, so a reader never sees half a file.
        let temporary = statePath + ".tmp"
        try encoder.encode(StateFile(processes: processes)).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, statePath) == 0 else {
            throw LocalClusterError("cannot write \(statePath): \(String(cString: strerror(errno)))")
        }
    }

    func removeState() throws {
        if FileManager.default.fileExists(atPath: statePath) { try FileManager.default.removeItem(atPath: statePath) }
    }

    struct StateFile: Codable {
        var version = 1
        var processes: [RunningService]
    }
}
