import Glibc
import LatticeTesting
import Logging
import Testing
@testable import Transport
import Wire

/// Errors a test helper throws when the server does not behave.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

let quietLogger: Logger = {
    var logger = Logger(label: "transport-tests")
    logger.logLevel = .critical
    return logger
}()

/// A server on a free loopback port with an `echo` unary method.
func startServer(config: TransportConfig = .init(), port: Int = 0, configure: (Server) -> Void = { _ in }) throws -> (Server, Int) {
    let server = Server(config: config, logger: quietLogger)
    server.unary("test/Echo") { payload, _ in payload }
    configure(server)
    let bound = try server.start(host: "127.0.0.1", port: port)
    return (server, bound)
}

/// Fails the test instead of hanging when `body` takes longer than `seconds` (scaled by TestTime).
func within<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let seconds = TestTime.seconds(seconds)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            throw TestFailure("\(what) did not finish within \(seconds) s")
        }
        group.cancelAll()
        return value
    }
}

/// Polls `condition` until it holds or `seconds` (scaled by TestTime) pass.
func eventually(_ seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
    let end = ContinuousClock.now + .milliseconds(Int(TestTime.seconds(seconds) * 1000))
    while ContinuousClock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A plain non-blocking TCP socket for sending malformed input; reads poll and sleep so that
/// they never block a cooperative thread.
final class RawSocket: @unchecked Sendable {
    let fd: Int32
    private var received: [UInt8] = []
    private(set) var peerClosed = false

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(fd); throw TestFailure("connect() failed: errno \(errno)") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// Sends all of `bytes` (waiting while the socket buffer is full).
    func send(_ bytes: [UInt8]) async throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n; continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { try await Task.sleep(for: .milliseconds(2)); continue }
            throw TestFailure("send() failed: errno \(errno)")
        }
    }

    func sendEnvelope(_ envelope: Envelope) async throws { try await send(frame(envelope.encode())) }

    /// Reads what has arrived, without waiting.
    private func drain() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { received.append(contentsOf: buffer[0..<n]); continue }
            if n == 0 { peerClosed = true }
            return
        }
    }

    /// The next whole frame decoded as an Envelope, or nil if the peer closed first.
    func readEnvelope(timeout: Double = 5) async throws -> Envelope? {
        let timeout = TestTime.seconds(timeout)
        let end = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while true {
            drain()
            if received.count >= 4 {
                let length = Int(received[0]) << 24 | Int(received[1]) << 16 | Int(received[2]) << 8 | Int(received[3])
                if received.count >= 4 + length {
                    let body = Array(received[4..<(4 + length)])
                    received.removeFirst(4 + length)
                    return try Envelope(wire: body)
                }
            }
            if peerClosed { return nil }
            guard ContinuousClock.now < end else { throw TestFailure("no frame within \(timeout) s") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits until the server closes the connection; true if it did within `timeout` (scaled by TestTime).
    func waitForClose(timeout: Double = 5) async -> Bool {
        let end = ContinuousClock.now + .milliseconds(Int(TestTime.seconds(timeout) * 1000))
        while ContinuousClock.now < end {
            drain()
            if peerClosed { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    func close() { Glibc.close(fd) }
}

/// Records things from handlers for a test to look at.
actor Recorder<Value: Sendable> {
    private(set) var values: [Value] = []
    func add(_ value: Value) { values.append(value) }
    var count: Int { values.count }
}

/// A counter handlers can bump without awaiting.
final class Counter: Sendable {
    private let value = Locked(0)
    func increment() { value.withLock { $0 += 1 } }
    var current: Int { value.withLock { $0 } }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// The payload bytes `body` copies in user space, as `PayloadCopies` counts them. The counter is
/// process-wide and other suites run beside this one in the same process (their 1 MiB echoes and
/// codec properties add to it), so `body` runs up to `attempts` times and the least count is taken,
/// stopping early at `enough`: interference only adds, so a body that copies too much fails every
/// attempt, while a neighbour's copies would have to land inside every one. The pauses between
/// attempts double from 20 ms up to 1 s (about 10 s in all), so a neighbour that copies for
/// seconds is waited out: with six attempts 20 ms apart, TransportTests failed about one run in
/// five on a loaded machine (session 17), on main as well.
func leastPayloadCopies(attempts: Int = 16, enough: Int = 0, _ body: () async throws -> Void) async throws -> Int {
    var least = Int.max
    var pause = 20
    for attempt in 0..<attempts {
        if attempt > 0 {
            try await Task.sleep(for: .milliseconds(pause))
            pause = min(2 * pause, 1000)
        }
        let before = PayloadCopies.bytes
        try await body()
        least = min(least, PayloadCopies.bytes - before)
        if least <= enough { break }
    }
    return least
}

/// What reads into the loop's shared buffer may copy of one large frame into its decoder: the
/// frame's start (at most that buffer) and its last bytes once fewer than `directReadBytes` are
/// missing (those are not read straight into the decoder: a system call costs more than the copy).
let largeFrameReadSlack = EventLoop.readBufferBytes + FrameDecoder.directReadBytes
