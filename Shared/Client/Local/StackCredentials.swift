import Foundation
import Transport
import Wire

/// The secrets of a local stack, as files in its state folder (mode 0600): `cluster.secret`
/// (what the services prove to each other), `api.keys` (the keys the services accept) and
/// `api.key` (one of them, for `lattice` commands). Made once, kept across `down`/`up`.
/// A cluster secret or key file already named in the environment is used instead.
public struct StackCredentials: Sendable {
    /// LATTICE_CLUSTER_SECRET_FILE and LATTICE_API_KEYS_FILE for the services.
    public let environment: [String: String]
    /// What the launcher itself proves (health checks): the cluster secret.
    public let cluster: Credentials

    public static let secretFile = "cluster.secret"
    public static let keysFile = "api.keys"
    public static let keyFile = "api.key"

    /// Reads or creates the credentials of the stack in `directory`.
    public static func prepare(in directory: String, environment given: [String: String] = ProcessInfo.processInfo.environment) throws -> StackCredentials {
        var environment: [String: String] = [:]
        let cluster: Credentials
        do {
            if let inherited = try Credentials.fromEnvironment(given.filter { $0.key.hasPrefix("LATTICE_CLUSTER_SECRET") }) {
                cluster = inherited   // the children inherit the variable as it is
            } else {
                let path = "\(directory)/\(secretFile)"
                try writeOnce(path, randomHex(32) + "\n")
                cluster = try Credentials.cluster(secret: try Credentials.readSecretFile(path, variable: path), source: path)
                environment["LATTICE_CLUSTER_SECRET_FILE"] = path
            }
        } catch let status as Status {
            throw LocalClusterError(status.message)
        }
        if let keys = given["LATTICE_API_KEYS_FILE"], !keys.isEmpty {
            environment["LATTICE_API_KEYS_FILE"] = keys
        } else {
            let token = "local.\(randomHex(24))"
            try writeOnce("\(directory)/\(keyFile)", token + "\n")
            let key = (try? String(contentsOfFile: "\(directory)/\(keyFile)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? token
            try writeOnce("\(directory)/\(keysFile)", "# API keys the local stack accepts, one ID.SECRET per line; delete a line to revoke it.\n\(key)\n")
            environment["LATTICE_API_KEYS_FILE"] = "\(directory)/\(keysFile)"
        }
        return StackCredentials(environment: environment, cluster: cluster)
    }

    /// What a `lattice` command proves: the environment's credentials if any, else the API key
    /// `lattice up` wrote to `directory` (nil: none found; the server will say so).
    public static func forCommands(stateDirectory directory: String) -> TransportConfig {
        var config = TransportConfig()
        if case .success(nil) = Credentials.ambient(),
           let token = try? String(contentsOfFile: "\(directory)/\(keyFile)", encoding: .utf8) {
            config.credentials = try? Credentials.apiKey(token, source: "\(directory)/\(keyFile)")
        }
        return config
    }

    /// For launchers that give their services no secret (tests): one cluster secret per process,
    /// put in this process's environment so that its own clients, and every child it starts
    /// (services, `lattice`, Python), use the same one.
    public static func ensureForThisProcess() -> [String: String] {
        processSecretLock.withLock {
            if let made = processSecret { return made }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lattice-secret-\(getpid())-\(randomHex(4))").path
            let environment: [String: String]
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                environment = try prepare(in: directory, environment: [:]).environment
            } catch {
                // Then the services refuse to start and say why; nothing to add here.
                return [:]
            }
            for (name, value) in environment { setenv(name, value, 1) }
            processSecret = environment
            return environment
        }
    }

    private static let processSecretLock = NSLock()
    nonisolated(unsafe) private static var processSecret: [String: String]?   // under processSecretLock

    static func randomHex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    /// Creates `path` with `contents`, readable by its owner only, unless it exists.
    static func writeOnce(_ path: String, _ contents: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        guard FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw LocalClusterError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
