import CLibUV
import Glibc
import Wire

/// A listening TCP socket that hands each accepted connection over as a `TCPChannel`.
/// Loop thread only.
final class Listener {
    let loop: EventLoop
    private let tcp: UnsafeMutablePointer<uv_tcp_t>
    private let maxFrameBytes: Int
    private(set) var port = 0
    private var closed = false
    var onAccept: ((TCPChannel) -> Void)?

    /// Binds and listens; throws UNAVAILABLE with the reason (address in use, no permission...).
    /// `reusePort`: the socket is bound with SO_REUSEPORT, so that several loops' listeners
    /// share the port and the kernel spreads connections over them (`TransportConfig.serverLoops`).
    init(loop: EventLoop, address: SocketAddress, maxFrameBytes: Int, reusePort: Bool = false, backlog: Int32 = 1024) throws {
        loop.assertInLoop("Listener")
        self.loop = loop
        self.maxFrameBytes = maxFrameBytes
        tcp = .allocate(capacity: 1)
        uv_tcp_init(loop.uv, tcp)
        tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()   // released in the close callback
        var rc: Int32 = reusePort ? Self.openReusingPort(tcp, family: Int32(address.storage.ss_family)) : 0
        if rc == 0 { rc = address.withSockaddr { uv_tcp_bind(tcp, $0, 0) } }
        if rc == 0 { rc = uv_listen(streamPointer(tcp), backlog, listenerAccept) }
        guard rc == 0 else {
            close()
            throw Status(.unavailable, "cannot listen on \(address.text): \(uvErrorText(rc))")
        }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutableBytes(of: &storage) { raw in
            uv_tcp_getsockname(tcp, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        port = SocketAddress(storage: storage).port
    }

    /// Gives `tcp` a socket with SO_REUSEPORT set, made here: the installed libuv (1.44) has no
    /// UV_TCP_REUSEPORT (1.49 added it), and the option must be set before bind. 0 or a libuv error.
    private static func openReusingPort(_ tcp: UnsafeMutablePointer<uv_tcp_t>, family: Int32) -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -errno }
        var on: Int32 = 1
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let error = -errno
            _ = Glibc.close(fd)
            return error
        }
        let rc = uv_tcp_open(tcp, uv_os_sock_t(fd))   // the handle owns it from here (closed with it)
        if rc != 0 { _ = Glibc.close(fd) }
        return rc
    }

    func close() {
        loop.assertInLoop("Listener.close")
        guard !closed else { return }
        closed = true
        onAccept = nil
        uv_close(handlePointer(tcp), listenerClosed)
    }

    fileprivate func accept(status: Int32) {
        loop.assertInLoop("Listener.accept")
        guard status == 0, !closed else { return }
        let channel = TCPChannel(loop: loop, maxFrameBytes: maxFrameBytes)
        guard uv_accept(streamPointer(tcp), channel.stream) == 0 else {
            channel.close(reason: "accept failed")
            return
        }
        channel.didConnect()
        if let onAccept { onAccept(channel) } else { channel.close(reason: "server is shutting down") }
    }

    fileprivate static func release(_ handle: UnsafeMutablePointer<uv_handle_t>) {
        guard let data = handle.pointee.data else { return }
        Unmanaged<Listener>.fromOpaque(data).release()
        UnsafeMutableRawPointer(handle).deallocate()
    }
}

private func listenerAccept(_ stream: UnsafeMutablePointer<uv_stream_t>?, _ status: Int32) {
    guard let data = stream?.pointee.data else { return }
    Unmanaged<Listener>.fromOpaque(data).takeUnretainedValue().accept(status: status)
}

private func listenerClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    guard let handle else { return }
    Listener.release(handle)
}

/// Connects out to an address; the completion runs on the loop with a connected channel or the
/// reason it failed.
final class Connector {
    private let channel: TCPChannel
    private let request: UnsafeMutablePointer<uv_connect_t>
    private var completion: ((Result<TCPChannel, Status>) -> Void)?
    private let target: String

    private init(channel: TCPChannel, target: String, completion: @escaping (Result<TCPChannel, Status>) -> Void) {
        self.channel = channel
        self.target = target
        self.completion = completion
        request = .allocate(capacity: 1)
    }

    static func connect(loop: EventLoop, address: SocketAddress, maxFrameBytes: Int,
                        completion: @escaping (Result<TCPChannel, Status>) -> Void) {
        let channel = TCPChannel(loop: loop, maxFrameBytes: maxFrameBytes)
        let connector = Connector(channel: channel, target: address.text, completion: completion)
        connector.request.pointee.data = Unmanaged.passRetained(connector).toOpaque()
        let rc = address.withSockaddr { uv_tcp_connect(connector.request, channel.tcp, $0, connectorDone) }
        if rc != 0 { connector.finish(status: rc) }
    }

    fileprivate func finish(status: Int32) {
        defer {
            request.deallocate()
            Unmanaged.passUnretained(self).release()   // balances passRetained in connect
        }
        guard let completion else { return }
        self.completion = nil
        if status == 0 {
            channel.didConnect()
            completion(.success(channel))
        } else {
            channel.close(reason: "connect failed")
            completion(.failure(Status(.unavailable, "cannot connect to \(target): \(uvErrorText(status))")))
        }
    }
}

private func connectorDone(_ request: UnsafeMutablePointer<uv_connect_t>?, _ status: Int32) {
    guard let data = request?.pointee.data else { return }
    Unmanaged<Connector>.fromOpaque(data).takeUnretainedValue().finish(status: status)
}
