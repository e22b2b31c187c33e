import Foundation
import Wire

/// Who a connection proved to be.
public enum Peer: Sendable, Equatable {
    /// Knows the cluster secret: another service of this cluster; may call every method.
    case cluster
    /// Holds an API key: may call the client methods only, while the key stays in the key file.
    case client(keyID: String)
}

/// A server's side of the handshake: the cluster secret, the API key file (read again whenever
/// it changes, so a key removed from it stops working without a restart) and the methods that
/// API-key clients may call.
public final class ServerAuth: Sendable {
    private let clusterSecret: [UInt8]
    private let keys: KeyFile?
    private let clientMethods: Set<String>

    public init(clusterSecret: Credentials, apiKeysFile: String?, clientMethods: Set<String>) {
        self.clusterSecret = clusterSecret.secret
        self.keys = apiKeysFile.map(KeyFile.init(path:))
        self.clientMethods = clientMethods
    }

    /// LATTICE_CLUSTER_SECRET_FILE or LATTICE_CLUSTER_SECRET (required), LATTICE_API_KEYS_FILE
    /// (optional: without it no API key is accepted).
    public static func fromEnvironment(_ environment: [String: String], clientMethods: Set<String>) throws(Status) -> ServerAuth {
        let cluster = environment.filter { $0.key.hasPrefix("LATTICE_CLUSTER_SECRET") }
        guard let secret = try Credentials.fromEnvironment(cluster) else {
            throw Status(.unauthenticated, "no cluster secret: set LATTICE_CLUSTER_SECRET_FILE to a file holding it (`lattice up` writes .lattice/cluster.secret; `openssl rand -hex 32` makes one), or LATTICE_CLUSTER_SECRET")
        }
        let keys = environment["LATTICE_API_KEYS_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        return ServerAuth(clusterSecret: secret, apiKeysFile: keys, clientMethods: clientMethods)
    }

    /// Checks a Proof against the nonces of this connection; the peer, or UNAUTHENTICATED.
    func verify(_ proof: HandshakeProof, serverNonce: [UInt8], clientNonce: [UInt8]) -> Result<(Peer, welcome: [UInt8]), Status> {
        let secret: [UInt8]
        let peer: Peer
        if proof.keyID.isEmpty {
            secret = clusterSecret
            peer = .cluster
        } else {
            guard let keys else { return .failure(Status(.unauthenticated, "this server accepts no API keys (it has no LATTICE_API_KEYS_FILE)")) }
            guard let known = keys.secret(for: proof.keyID) else {
                return .failure(Status(.unauthenticated, "API key '\(proof.keyID)' is unknown or revoked"))
            }
            secret = known
            peer = .client(keyID: proof.keyID)
        }
        let expected = Handshake.clientMAC(secret: secret, serverNonce: serverNonce, clientNonce: clientNonce, keyID: proof.keyID)
        guard constantTimeEqual(expected, proof.mac) else {
            return .failure(Status(.unauthenticated, peer == .cluster ? "wrong cluster secret" : "wrong secret for API key '\(proof.keyID)'"))
        }
        return .success((peer, Handshake.serverMAC(secret: secret, serverNonce: serverNonce, clientNonce: clientNonce, keyID: proof.keyID)))
    }

    /// Nil when `peer` may call `method` now; else why not (a revoked key is UNAUTHENTICATED,
    /// a cluster method called with an API key PERMISSION_DENIED).
    func refusal(of method: String, by peer: Peer) -> Status? {
        guard case .client(let keyID) = peer else { return nil }
        guard keys?.secret(for: keyID) != nil else {
            return Status(.unauthenticated, "API key '\(keyID)' was revoked")
        }
        guard clientMethods.contains(method) else {
            return Status(.permissionDenied, "'\(method)' is for the cluster's own services; an API key may call \(clientMethods.sorted().joined(separator: ", "))")
        }
        return nil
    }
}

/// An API key file: one "ID.SECRET" per line, '#' starts a comment. Read again when its size,
/// modification time or inode changes (checked with one stat per lookup).
final class KeyFile: Sendable {
    let path: String
    private struct Loaded {
        var signature: [Int] = []
        var keys: [String: [UInt8]] = [:]
    }
    private let loaded = Locked(Loaded())

    init(path: String) { self.path = path }

    func secret(for id: String) -> [UInt8]? {
        var info = stat()
        let signature = stat(path, &info) == 0
            ? [Int(info.st_ino), Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)] : []
        return loaded.withLock { state in
            if state.signature != signature || signature.isEmpty {
                state.signature = signature
                state.keys = Self.parse(signature.isEmpty ? "" : (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
            }
            return state.keys[id]
        }
    }

    static func parse(_ text: String) -> [String: [UInt8]] {
        var keys: [String: [UInt8]] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if let key = APIKey(token: String(content)) { keys[key.id] = key.secret }
        }
        return keys
    }
}
