import Wire

/// The connection handshake (proto/lattice/v1/auth.proto), before any call:
///
///     client → Hello{client_nonce}                 server → Challenge{server_nonce, auth_required}
///     client → Proof{key_id, mac}, then its calls  server → Welcome{mac}, then answers
///                                                  (or UNAUTHENTICATED on call 0, and closes)
///
/// Each MAC is HMAC-SHA256 under the cluster secret (key_id empty) or the API key, over a label,
/// both nonces and the key id: a recorded handshake is worthless on a connection with fresh
/// nonces, and the Welcome shows the server knows the secret too. The phase is where a TLS
/// upgrade would be negotiated later. A server that requires no proof (in-process tests) also
/// takes a first frame that is not Hello, as before the handshake existed.
public enum Handshake {
    public static let helloMethod = "lattice.v1/Hello"
    public static let proofMethod = "lattice.v1/Proof"
    public static let nonceBytes = 32
    /// Frames before authentication are tiny: an unknown peer cannot make us buffer 64 MiB.
    public static let maxFrameBytes = 4096

    public static func nonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()   // getrandom(2) on Linux
        return (0..<nonceBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    public static func clientMAC(secret: [UInt8], serverNonce: [UInt8], clientNonce: [UInt8], keyID: String) -> [UInt8] {
        mac("lattice.v1 client", secret, serverNonce, clientNonce, keyID)
    }

    public static func serverMAC(secret: [UInt8], serverNonce: [UInt8], clientNonce: [UInt8], keyID: String) -> [UInt8] {
        mac("lattice.v1 server", secret, serverNonce, clientNonce, keyID)
    }

    /// The Proof `credentials` give for these nonces, and the Welcome MAC the server must answer.
    public static func proof(_ credentials: Credentials, serverNonce: [UInt8], clientNonce: [UInt8]) -> (proof: HandshakeProof, welcome: [UInt8]) {
        let id = credentials.keyID
        return (HandshakeProof(keyID: id, mac: clientMAC(secret: credentials.secret, serverNonce: serverNonce, clientNonce: clientNonce, keyID: id)),
                serverMAC(secret: credentials.secret, serverNonce: serverNonce, clientNonce: clientNonce, keyID: id))
    }

    private static func mac(_ label: String, _ secret: [UInt8], _ serverNonce: [UInt8], _ clientNonce: [UInt8], _ keyID: String) -> [UInt8] {
        hmacSHA256(key: secret, message: Array(label.utf8) + [0] + serverNonce + clientNonce + Array(keyID.utf8))
    }
}
