import Foundation
import Testing
@testable import Transport
import Wire

@Suite("SHA-256 and HMAC-SHA256 against FIPS 180-4 and RFC 4231")
struct DigestTests {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func sha256Vectors() {
        #expect(hex(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000))) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func hmacRFC4231() {
        let cases: [([UInt8], [UInt8], String)] = [
            ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            ([UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (Array(1...25), [UInt8](repeating: 0xcd, count: 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
            ([UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            ([UInt8](repeating: 0xaa, count: 131), Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        ]
        for (key, message, expected) in cases { #expect(hex(hmacSHA256(key: key, message: message)) == expected) }
        #expect(constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEqual([1, 2], [1, 2, 3]))
    }
}

@Suite("Handshake and credentials over loopback")
struct AuthTests {
    static let secret = try! Credentials.cluster(secret: "correct-horse-battery-staple-0123")

    /// A server that requires the handshake, with an API key file, serving `test/Echo`
    /// (cluster only) and `test/Public` (API keys too); counts the calls its handlers ran.
    func authServer(keys: String) throws -> (Server, Int, Counter) {
        var config = TransportConfig()
        config.auth = ServerAuth(clusterSecret: Self.secret, apiKeysFile: keys, clientMethods: ["test/Public"])
        let ran = Counter()
        let (server, port) = try startServer(config: config) { server in
            server.unary("test/Public") { payload, _ in ran.increment(); return payload }
        }
        return (server, port, ran)
    }

    func keyFile(_ contents: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lattice-keys-\(UUID().uuidString)").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func client(_ port: Int, _ credentials: Credentials?) -> Connection {
        var config = TransportConfig()
        config.credentials = credentials
        return Connection(host: "127.0.0.1", port: port, config: config, reconnect: .never)
    }

    @Test func theClusterSecretOpensEveryMethod() async throws {
        let (server, port, _) = try authServer(keys: try keyFile(""))
        let connection = client(port, Self.secret)
        #expect(try await connection.call("test/Echo", [1, 2, 3]) == [1, 2, 3])
        #expect(try await connection.call("test/Public", [4]) == [4])
        #expect(server.stats.authFailures == 0)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func aWrongSecretIsUnauthenticatedAndRunsNothing() async throws {
        let (server, port, ran) = try authServer(keys: try keyFile(""))
        let connection = client(port, try Credentials.cluster(secret: "not-the-cluster-secret-at-all"))
        // Several calls pipelined behind the bad proof: none may run.
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    await #expect(throws: Status.self) { _ = try await connection.call("test/Public", [1]) }
                }
            }
        }
        do {
            _ = try await connection.call("test/Public", [1])
            Issue.record("a wrong secret was accepted")
        } catch let status as Status {
            #expect(status.code == .unauthenticated, "\(status)")
            #expect(status.message.contains("wrong cluster secret"), "\(status)")
        }
        #expect(ran.current == 0)
        #expect(server.stats.callsTotal == 0)
        #expect(await eventually(5) { server.stats.authFailures >= 1 && server.stats.connectionsOpen == 0 })
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func noCredentialsIsAClearError() async throws {
        let (server, port, _) = try authServer(keys: try keyFile(""))
        // Ambient credentials may exist in this process (other suites); a raw Hello without a Proof
        // is what a client without credentials sends.
        let raw = try RawSocket(port: port)
        try await raw.sendEnvelope(Envelope(callID: 0, method: Handshake.helloMethod, payload: HandshakeHello(clientNonce: Handshake.nonce()).encode()))
        let challenge = try #require(try await raw.readEnvelope())
        #expect(try HandshakeChallenge(wire: challenge.payload).authRequired)
        try await raw.sendEnvelope(Envelope(callID: 1, method: "test/Public", payload: [1]))
        let refusal = try #require(try await raw.readEnvelope())
        #expect(refusal.callID == 0 && refusal.status?.code == .unauthenticated, "\(refusal)")
        #expect(await raw.waitForClose())
        raw.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func aFirstFrameThatIsNotHelloIsRefused() async throws {
        let (server, port, ran) = try authServer(keys: try keyFile(""))
        let raw = try RawSocket(port: port)
        try await raw.sendEnvelope(Envelope(callID: 1, method: "test/Public", payload: [1]))
        let refusal = try #require(try await raw.readEnvelope())
        #expect(refusal.status?.code == .unauthenticated)
        #expect(refusal.status?.message.contains("Hello") == true)
        #expect(await raw.waitForClose())
        #expect(ran.current == 0)
        raw.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func aRecordedProofCannotBeReplayed() async throws {
        let (server, port, _) = try authServer(keys: try keyFile(""))
        // Record a good handshake.
        let first = try RawSocket(port: port)
        let clientNonce = Handshake.nonce()
        try await first.sendEnvelope(Envelope(callID: 0, method: Handshake.helloMethod, payload: HandshakeHello(clientNonce: clientNonce).encode()))
        let challenge = try HandshakeChallenge(wire: try #require(try await first.readEnvelope()).payload)
        let (proof, _) = Handshake.proof(Self.secret, serverNonce: challenge.serverNonce, clientNonce: clientNonce)
        try await first.sendEnvelope(Envelope(callID: 0, method: Handshake.proofMethod, payload: proof.encode()))
        let welcome = try #require(try await first.readEnvelope())
        #expect(welcome.status == nil && welcome.method == Handshake.proofMethod)
        first.close()
        // Replay it, Hello and Proof byte for byte, on a new connection: the server's nonce differs.
        let second = try RawSocket(port: port)
        try await second.sendEnvelope(Envelope(callID: 0, method: Handshake.helloMethod, payload: HandshakeHello(clientNonce: clientNonce).encode()))
        let other = try HandshakeChallenge(wire: try #require(try await second.readEnvelope()).payload)
        #expect(other.serverNonce != challenge.serverNonce)
        try await second.sendEnvelope(Envelope(callID: 0, method: Handshake.proofMethod, payload: proof.encode()))
        let refusal = try #require(try await second.readEnvelope())
        #expect(refusal.status?.code == .unauthenticated)
        #expect(await second.waitForClose())
        second.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func apiKeysReachClientMethodsOnlyAndAreRevokedByEditingTheFile() async throws {
        let token = "ci.0123456789abcdef0123"
        let path = try keyFile("# keys\n\(token)\nother.fedcba9876543210fedc\n")
        let (server, port, _) = try authServer(keys: path)
        let connection = client(port, try Credentials.apiKey(token))
        #expect(try await connection.call("test/Public", [7]) == [7])
        await #expect(throws: Status(.permissionDenied, "'test/Echo' is for the cluster's own services; an API key may call test/Public")) {
            _ = try await connection.call("test/Echo", [1])
        }
        #expect(server.stats.callsDenied == 1)
        // Revoke: the same connection's next call, and any new connection, are refused.
        try "other.fedcba9876543210fedc\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try await connection.call("test/Public", [7])
            Issue.record("a revoked key was accepted")
        } catch let status as Status {
            #expect(status.code == .unauthenticated && status.message.contains("revoked"), "\(status)")
        }
        let again = client(port, try Credentials.apiKey(token))
        await #expect(throws: Status.self) { _ = try await again.call("test/Public", [7]) }
        await connection.close()
        await again.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func badSecretsAreClearErrors() throws {
        #expect(throws: Status.self) { try Credentials.cluster(secret: "short") }
        #expect(throws: Status.self) { try Credentials.apiKey("no-dot-here-0123456789") }
        #expect(throws: Status.self) { try Credentials.apiKey("bad id.0123456789abcdef0123") }
        #expect(throws: Status.self) { try Credentials.fromEnvironment(["LATTICE_CLUSTER_SECRET_FILE": "/nonexistent/secret"]) }
        let none = try Credentials.fromEnvironment([:])
        #expect(none == nil)
        let key = try Credentials.fromEnvironment(["LATTICE_API_KEY": "me.0123456789abcdef0123"])
        #expect(key?.keyID == "me")
    }
}

@Suite("Limits on clients and connections")
struct ClientLimitTests {
    @Test func oneAPIKeyMayRunAtMostMaxCallsPerClient() async throws {
        let token = "busy.0123456789abcdef0123"
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("lattice-keys-\(UUID().uuidString)").path
        try "\(token)\n".write(toFile: keys, atomically: true, encoding: .utf8)
        var config = TransportConfig()
        config.auth = ServerAuth(clusterSecret: AuthTests.secret, apiKeysFile: keys, clientMethods: ["test/Wait"])
        config.maxCallsPerClient = 2
        let gate = Gate()
        let (server, port) = try startServer(config: config) { server in
            server.unary("test/Wait") { payload, _ in await gate.wait(); return payload }
        }
        var clientConfig = TransportConfig()
        clientConfig.credentials = try Credentials.apiKey(token)
        // Two connections of one key share the limit.
        let a = Connection(host: "127.0.0.1", port: port, config: clientConfig, reconnect: .never)
        let b = Connection(host: "127.0.0.1", port: port, config: clientConfig, reconnect: .never)
        let running = [Task { try await a.call("test/Wait", [1]) }, Task { try await b.call("test/Wait", [2]) }]
        #expect(await eventually(5) { server.stats.callsInFlight == 2 })
        await #expect(throws: Status.self) { _ = try await b.call("test/Wait", [3]) }
        #expect(server.stats.callsOverClientLimit == 1)
        await gate.open()
        for task in running { _ = try await task.value }
        #expect(try await a.call("test/Wait", [4]) == [4])
        await a.close()
        await b.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func aClientConnectionBoundsItsPendingCallsAndUnsentBytes() async throws {
        let gate = Gate()
        let (server, port) = try startServer { server in
            server.unary("test/Wait") { payload, _ in await gate.wait(); return payload }
        }
        var config = TransportConfig()
        config.maxPendingCalls = 2
        let connection = Connection(host: "127.0.0.1", port: port, config: config, reconnect: .never)
        let running = [Task { try await connection.call("test/Wait", [1]) }, Task { try await connection.call("test/Wait", [2]) }]
        #expect(await eventually(5) { server.stats.callsInFlight == 2 })
        do {
            _ = try await connection.call("test/Wait", [3])
            Issue.record("a third pending call was accepted")
        } catch let status as Status {
            #expect(status.code == .resourceExhausted && status.message.contains("maxPendingCalls"), "\(status)")
        }
        await gate.open()
        for task in running { _ = try await task.value }
        await connection.close()
        await server.shutdown(timeout: .seconds(1))

        // Nothing listens on port 1: calls wait for a connection that keeps failing.
        var unsent = TransportConfig()
        unsent.maxUnsentRequestBytes = 150
        let nowhere = Connection(host: "127.0.0.1", port: 1, config: unsent)
        let waiting = Task { try await nowhere.call("test/Wait", [UInt8](repeating: 1, count: 100), deadline: .seconds(2)) }
        try await Task.sleep(for: .milliseconds(100))
        do {
            _ = try await nowhere.call("test/Wait", [UInt8](repeating: 2, count: 100), deadline: .seconds(2))
            Issue.record("unsent bytes over the limit were queued")
        } catch let status as Status {
            #expect(status.code == .resourceExhausted && status.message.contains("maxUnsentRequestBytes"), "\(status)")
        }
        _ = try? await waiting.value
        await nowhere.close()
    }
}

/// Holds handlers until opened.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }
}
