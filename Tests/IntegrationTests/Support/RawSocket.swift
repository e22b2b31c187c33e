import Foundation
import Transport
import Wire

/// A blocking TCP socket for sending a server bytes no well-behaved client would send.
final class RawSocket {
    let fd: Int32

    /// Connects; with `authenticate` (the default) it first passes the handshake with this
    /// process's credentials, so that what the test sends next is judged as a call would be.
    init(host: String = "127.0.0.1", port: Int, receiveTimeout seconds: Int = 5, authenticate: Bool = true) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError("socket(): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw RawSocketError("connect to \(host):\(port): \(reason)")
        }
        if authenticate { try handshake() }
    }

    /// Hello, Challenge, Proof, Welcome (proto/lattice/v1/auth.proto); the Proof sent, for replays.
    @discardableResult
    func handshake(credentials given: Credentials? = nil, replaying recorded: HandshakeProof? = nil) throws -> HandshakeProof? {
        let clientNonce = Handshake.nonce()
        send(Envelope(callID: 0, method: Handshake.helloMethod, payload: HandshakeHello(clientNonce: clientNonce).encode()))
        guard let answer = try readFrame() else { throw RawSocketError("no Challenge: the server closed the connection") }
        let challenge = try HandshakeChallenge(wire: answer.payload)
        guard challenge.authRequired else { return nil }
        guard let credentials = try given ?? Credentials.ambient().get() else { throw RawSocketError("this test process has no credentials") }
        let (proof, welcome) = Handshake.proof(credentials, serverNonce: challenge.serverNonce, clientNonce: clientNonce)
        send(Envelope(callID: 0, method: Handshake.proofMethod, payload: (recorded ?? proof).encode()))
        if recorded != nil { return proof }   // the caller reads the refusal
        guard let reply = try readFrame(), reply.status == nil, try HandshakeWelcome(wire: reply.payload).mac == welcome else {
            throw RawSocketError("the server did not welcome this process's credentials")
        }
        return proof
    }

    deinit { close(fd) }

    /// Sends all bytes; false when the peer has already closed.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                Foundation.send(fd, buffer.baseAddress.map { $0 + offset }, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Sends one frame holding `envelope`.
    func send(_ envelope: Envelope) { send(frame(envelope.encode())) }

    /// What the server did after the bad input: the frames it sent, then whether it closed.
    struct Reply {
        var envelopes: [Envelope] = []
        var closed = false
        var timedOut = false
    }

    /// Reads exactly one frame (nil if the server closes or stays silent first).
    func readFrame() throws -> Envelope? {
        guard let prefix = read(count: 4) else { return nil }
        let length = prefix.reduce(0) { $0 << 8 | Int($1) }
        guard let body = read(count: length) else { return nil }
        return try Envelope(wire: body)
    }

    private func read(count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, count - filled, 0) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { return nil }
            filled += got
        }
        return bytes
    }

    /// Closes with a reset instead of a goodbye (SO_LINGER 0), like a crashed client.
    func abort() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    /// Reads frames until the server closes the connection or `receiveTimeout` passes.
    func readUntilClosed() throws -> Reply {
        var reply = Reply()
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) { reply.closed = true; break }
            if count < 0 {
                if errno == EINTR { continue }
                reply.timedOut = true
                break
            }
            buffer += chunk[0..<count]
            while buffer.count >= 4 {
                let length = buffer[0..<4].reduce(0) { $0 << 8 | Int($1) }
                guard buffer.count >= 4 + length else { break }
                reply.envelopes.append(try Envelope(wire: Array(buffer[4..<4 + length])))
                buffer.removeFirst(4 + length)
            }
        }
        return reply
    }
}

struct RawSocketError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs blocking socket work on its own thread, off Swift's small cooperative pool.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
