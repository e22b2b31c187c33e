import Foundation
import Wire

/// What a client proves in the handshake: the cluster secret (services talking to each other)
/// or an API key (people and programs calling Generate, Optimize, Plan...). Secrets come from a
/// file or the environment, never a flag, so that they do not show in `ps`.
public struct Credentials: Sendable, Equatable, CustomStringConvertible {
    /// Empty for the cluster secret, else the API key's id (the part before the dot).
    public let keyID: String
    let secret: [UInt8]

    /// Shortest secret accepted: 16 bytes (lattice up writes 64 hex digits).
    public static let minimumSecretBytes = 16

    public static func cluster(secret: String, source: String = "the cluster secret") throws(Status) -> Credentials {
        let trimmed = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.utf8.count >= minimumSecretBytes else {
            throw Status(.unauthenticated, "\(source) is \(trimmed.utf8.count) bytes; use at least \(minimumSecretBytes) (e.g. `openssl rand -hex 32`)")
        }
        return Credentials(keyID: "", secret: Array(trimmed.utf8))
    }

    /// An API key token, "ID.SECRET" (as `lattice up` writes to .lattice/api.key).
    public static func apiKey(_ token: String, source: String = "the API key") throws(Status) -> Credentials {
        guard let key = APIKey(token: token) else {
            throw Status(.unauthenticated, "\(source) is not an API key: expected ID.SECRET (ID: letters, digits, '-' or '_'; SECRET: at least \(minimumSecretBytes) characters)")
        }
        return Credentials(keyID: key.id, secret: key.secret)
    }

    public var description: String { keyID.isEmpty ? "cluster secret" : "API key '\(keyID)'" }

    /// LATTICE_CLUSTER_SECRET_FILE, LATTICE_CLUSTER_SECRET, LATTICE_API_KEY_FILE, LATTICE_API_KEY,
    /// in that order; nil when none is set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(Status) -> Credentials? {
        if let path = nonEmpty(environment["LATTICE_CLUSTER_SECRET_FILE"]) {
            return try cluster(secret: try readSecretFile(path, variable: "LATTICE_CLUSTER_SECRET_FILE"), source: "LATTICE_CLUSTER_SECRET_FILE (\(path))")
        }
        if let value = nonEmpty(environment["LATTICE_CLUSTER_SECRET"]) {
            return try cluster(secret: value, source: "LATTICE_CLUSTER_SECRET")
        }
        if let path = nonEmpty(environment["LATTICE_API_KEY_FILE"]) {
            return try apiKey(try readSecretFile(path, variable: "LATTICE_API_KEY_FILE"), source: "LATTICE_API_KEY_FILE (\(path))")
        }
        if let value = nonEmpty(environment["LATTICE_API_KEY"]) {
            return try apiKey(value, source: "LATTICE_API_KEY")
        }
        return nil
    }

    /// This process's credentials from its environment, read again only when the variables change.
    public static func ambient() -> Result<Credentials?, Status> {
        let environment = ProcessInfo.processInfo.environment
        let key = variables.map { environment[$0] ?? "" }
        return ambientCache.withLock { cache in
            if let cached = cache, cached.key == key { return cached.value }
            let value = Result<Credentials?, Status> { () throws(Status) -> Credentials? in try fromEnvironment(environment) }
            cache = (key, value)
            return value
        }
    }

    static let variables = ["LATTICE_CLUSTER_SECRET_FILE", "LATTICE_CLUSTER_SECRET", "LATTICE_API_KEY_FILE", "LATTICE_API_KEY"]
    private static let ambientCache = Locked<(key: [String], value: Result<Credentials?, Status>)?>(nil)

    public static func readSecretFile(_ path: String, variable: String) throws(Status) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw Status(.unauthenticated, "\(variable): cannot read \(path) (missing or not readable by this user)")
        }
        return text
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }
}

/// One API key: "ID.SECRET".
struct APIKey: Equatable, Sendable {
    let id: String
    let secret: [UInt8]

    init?(token: String) {
        let text = token.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let dot = text.firstIndex(of: ".") else { return nil }
        let id = String(text[..<dot]), secret = String(text[text.index(after: dot)...])
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        guard (1...64).contains(id.count), id.allSatisfy(allowed.contains),
              secret.utf8.count >= Credentials.minimumSecretBytes, !secret.contains(where: \.isWhitespace) else { return nil }
        self.id = id
        self.secret = Array(secret.utf8)
    }
}
