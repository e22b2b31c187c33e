import Client
import Foundation

/// A real service executable started for a test on a free loopback port.
public final class TestService: Sendable {
    public let process: RunningService
    public let host: String
    public let port: Int
    let directory: String

    init(process: RunningService, directory: String) throws {
        self.process = process
        self.directory = directory
        let endpoint = try Endpoint(parsing: process.address)
        self.host = endpoint.host
        self.port = endpoint.port
    }

    public var service: ServiceName { process.service }
    public var address: String { process.address }
    public var pid: Int32 { process.pid }

    /// A new client on its own connection (close it when done).
    public func client(reconnect: ReconnectPolicy = .never) -> ServiceClient {
        ServiceClient(host: host, port: port, reconnect: reconnect)
    }

    /// Everything the service logged on stderr so far.
    public var log: String { TextFile.read(process.logPath) ?? "" }

    /// Deletes the folder holding its log and stdout (after `stop`).
    public func removeFiles() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// SIGTERM, wait up to `timeout` (scaled by TestTime; then SIGKILL); the exit status.
    @discardableResult
    public func stop(timeout: Duration = .seconds(10)) async -> (status: ExitStatus?, killed: Bool) {
        await process.stop(timeout: TestTime.scaled(timeout))
    }
}

/// Starting real services for tests, the way HummingbirdTesting starts a real server.
public enum LatticeTesting {
    /// The built executables (LATTICE_BIN_DIR, or beside the test runner in `.build/<config>`).
    /// Throws a message that says to run `swift build` when they are missing.
    public static func binaries() throws -> ServiceBinaries { try ServiceBinaries.locate() }

    /// Starts `service` with `--listen 127.0.0.1:0`, reads the port it prints, waits for its
    /// Health to answer SERVING, runs `body`, then stops it (SIGTERM) however `body` ends.
    public static func withService<R: Sendable>(
        _ service: ServiceName, arguments: [String] = [], environment: [String: String] = [:],
        startTimeout: Duration = .seconds(30), _ body: (TestService) async throws -> R
    ) async throws -> R {
        let running = try await start(service, arguments: arguments, environment: environment, startTimeout: startTimeout)
        do {
            let result = try await body(running)
            await running.stop()
            running.removeFiles()
            return result
        } catch {
            await running.stop()
            throw error
        }
    }

    /// Starts a service and waits for SERVING (up to `startTimeout`, scaled by TestTime); the caller stops it.
    public static func start(
        _ service: ServiceName, arguments: [String] = [], environment: [String: String] = [:],
        startTimeout: Duration = .seconds(30)
    ) async throws -> TestService {
        let startTimeout = TestTime.scaled(startTimeout)
        // SIGTERM's drain (a worker finishing its requests) gets the scaled default unless a test sets it.
        let environment = ["LATTICE_DRAIN_TIMEOUT": "\(TestTime.seconds(10))"].merging(environment) { _, given in given }
        let directory = temporaryDirectory(service.displayName)
        let process = try await RunningService.launch(
            service, role: service.displayName, binaries: try binaries(), arguments: arguments,
            environment: environment, logDirectory: directory, timeout: startTimeout)
        let running = try TestService(process: process, directory: directory)
        do {
            try await waitUntilServing(running, timeout: startTimeout)
        } catch {
            await running.stop(timeout: .seconds(2))
            throw error
        }
        return running
    }

    /// Polls Health until SERVING (`timeout` as given: callers scale it).
    public static func waitUntilServing(_ running: TestService, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = "no answer"
        while ContinuousClock.now < deadline {
            let client = running.client()
            do {
                let health = try await client.health(running.service, deadline: TestTime.scaled(.seconds(2)))
                await client.close()
                if health.status == .serving { return }
                last = health.status.description
            } catch {
                await client.close()
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw LocalClusterError("\(running.service) at \(running.address) is not SERVING after \(timeout) (last: \(last)); log:\n\(ChildProcess.tail(running.process.logPath))")
    }

    /// A fresh folder under the system's temporary directory.
    public static func temporaryDirectory(_ prefix: String) -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("lattice-\(prefix)-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
