import CLibUV
import Wire

/// One TCP connection carrying frames: reads are split into frames, writes are queued and sent
/// in batches (one writev of every queued frame, straight from their own memory), one uv_write
/// at a time. Loop thread only (the one place, with `Listener` and
/// `LoopTimer`, that touches libuv sockets). The handle keeps the channel alive until its close
/// callback frees it.
final class TCPChannel {
    let loop: EventLoop
    let tcp: UnsafeMutablePointer<uv_tcp_t>
    private var decoder: FrameDecoder
    private let writeRequest: UnsafeMutablePointer<uv_write_t>
    private var pending: [FrameBytes] = []     // frames waiting for the next write
    private var pendingBytes = 0
    private var inFlight: [FrameBytes] = []    // frames libuv is writing now (kept alive for it)
    private var inFlightBytes = 0
    private var buffers: [uv_buf_t] = []
    private var writing = false
    private var flushScheduled = false
    private var reading = false
    private var delivering = false
    private var flushTimer: LoopTimer?
    private(set) var isClosed = false
    private var closeWhenFlushed = false
    private(set) var peer = "unconnected"
    private(set) var bytesReceived: UInt64 = 0
    private(set) var bytesSent: UInt64 = 0

    /// A complete frame body arrived (valid only during the call).
    var onFrame: ((UnsafeBufferPointer<UInt8>) -> Void)?
    /// The byte stream broke the framing rules (e.g. a length over the maximum).
    var onFrameError: ((FrameError) -> Void)?
    /// A write finished; queued bytes went down.
    var onWritten: (() -> Void)?
    /// The connection is closed (by us or the peer), with the reason.
    var onClosed: ((String) -> Void)?

    init(loop: EventLoop, maxFrameBytes: Int) {
        self.loop = loop
        decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
        tcp = .allocate(capacity: 1)
        uv_tcp_init(loop.uv, tcp)
        writeRequest = .allocate(capacity: 1)
        tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()   // released in the close callback
    }

    var stream: UnsafeMutablePointer<uv_stream_t> { streamPointer(tcp) }

    /// Bytes queued for the socket and not yet written.
    var queuedBytes: Int { pendingBytes + inFlightBytes }

    /// Called once the socket is connected (accepted or connected out).
    func didConnect() {
        uv_tcp_nodelay(tcp, 1)
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutableBytes(of: &storage) { raw in
            uv_tcp_getpeername(tcp, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        if rc == 0 { peer = SocketAddress(storage: storage).text }
        resumeReading()
    }

    /// Starts (again) taking frames: first those already buffered, then from the socket.
    func resumeReading() {
        guard !isClosed, !reading, !closeWhenFlushed else { return }
        reading = uv_read_start(stream, channelAllocate, channelRead) == 0
        if reading { deliverFrames() }
    }

    func pauseReading() {
        guard !isClosed, reading else { return }
        uv_read_stop(stream)
        reading = false
    }

    var isReading: Bool { reading }

    /// Queues one whole frame (prefix included, see `EnvelopeCodec.frame`) and starts a write
    /// if none is running.
    func write(_ frame: FrameBytes) {
        guard !isClosed, !closeWhenFlushed else { return }
        pending.append(frame)
        pendingBytes += frame.count
        if !writing && !flushScheduled {
            flushScheduled = true
            loop.scheduleFlush(self)
        }
    }

    /// Writes what queued up during this loop iteration (called by the loop once per iteration).
    func flush() {
        flushScheduled = false
        if !writing && !isClosed { startWrite() }
    }

    /// Closes once everything queued has been written (a final error answer, a drained server).
    func closeAfterFlush(reason: String) {
        guard !isClosed else { return }
        pauseReading()
        if queuedBytes == 0 { close(reason: reason); return }
        closeWhenFlushed = true
        flushReason = reason
        // A peer that never reads must not keep the connection open forever.
        let timer = LoopTimer(loop: loop)
        timer.start(after: 2000) { [self] in close(reason: reason + " (answer not read within 2 s)") }
        flushTimer = timer
    }
    private var flushReason = ""

    func close(reason: String) {
        guard !isClosed else { return }
        isClosed = true
        reading = false
        flushTimer?.cancel()
        flushTimer = nil
        uv_close(handlePointer(tcp), channelClosed)   // pending write callbacks run first, with ECANCELED
        let closed = onClosed
        onFrame = nil; onFrameError = nil; onWritten = nil; onClosed = nil
        closed?(reason)
    }

    private func startWrite() {
        guard !pending.isEmpty else { return }
        swap(&pending, &inFlight)
        inFlightBytes = pendingBytes
        pendingBytes = 0
        buffers.removeAll(keepingCapacity: true)
        for frame in inFlight {
            buffers.append(uv_buf_init(frame.base.assumingMemoryBound(to: CChar.self), UInt32(frame.count)))
        }
        writeRequest.pointee.data = tcp.pointee.data
        let rc = uv_write(writeRequest, stream, buffers, UInt32(buffers.count), channelWritten)   // libuv copies the buffer list
        if rc < 0 {
            inFlight.removeAll()
            inFlightBytes = 0
            close(reason: "write failed: \(uvErrorText(rc))")
        } else {
            writing = true
        }
    }

    fileprivate func written(status: Int32) {
        writing = false
        if status >= 0 { bytesSent += UInt64(inFlightBytes) }
        inFlight.removeAll(keepingCapacity: true)
        inFlightBytes = 0
        guard !isClosed else { return }
        if status < 0 {
            close(reason: "write failed: \(uvErrorText(status))")
            return
        }
        if !pending.isEmpty { startWrite() }
        if closeWhenFlushed && queuedBytes == 0 { close(reason: flushReason); return }
        onWritten?()
    }

    fileprivate func received(_ nread: Int) {
        guard !isClosed else { return }
        if nread < 0 {
            if Int32(nread) == UV_EOF.rawValue {
                if let length = decoder.pendingFrameLength {
                    close(reason: "peer closed the connection mid-frame (\(decoder.bufferedBytes - 4) of \(length) body bytes received)")
                } else if decoder.bufferedBytes > 0 {
                    close(reason: "peer closed the connection mid-frame (\(decoder.bufferedBytes) of 4 length bytes received)")
                } else {
                    close(reason: "peer closed the connection")
                }
            } else {
                close(reason: "read failed: \(uvErrorText(Int32(nread)))")
            }
            return
        }
        bytesReceived += UInt64(nread)
        decoder.append(UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<nread]))
        deliverFrames()
    }

    /// Hands buffered frames over until none is complete or the owner pauses reading (then the
    /// rest stays buffered: at most one read's worth).
    private func deliverFrames() {
        // Not re-entrant: a frame handler that resumes reading lets the running loop go on.
        guard !delivering else { return }
        delivering = true
        defer { delivering = false }
        do {
            while reading, !isClosed, !closeWhenFlushed, try decoder.withNextFrame({ onFrame?($0) }) != nil {}
        } catch let error as FrameError {
            onFrameError?(error)
        } catch {
            close(reason: "framing failed: \(error)")
        }
    }

    fileprivate static func release(_ handle: UnsafeMutablePointer<uv_handle_t>) {
        guard let data = handle.pointee.data else { return }
        let channel = Unmanaged<TCPChannel>.fromOpaque(data).takeRetainedValue()
        channel.writeRequest.deallocate()
        UnsafeMutableRawPointer(handle).deallocate()
    }
}

private func channelAllocate(_ handle: UnsafeMutablePointer<uv_handle_t>?, _ suggested: Int, _ buffer: UnsafeMutablePointer<uv_buf_t>?) {
    guard let buffer else { return }
    let shared = EventLoop.shared.readBuffer
    buffer.pointee = uv_buf_init(shared.baseAddress?.assumingMemoryBound(to: CChar.self), UInt32(shared.count))
}

private func channelRead(_ stream: UnsafeMutablePointer<uv_stream_t>?, _ nread: Int, _ buffer: UnsafePointer<uv_buf_t>?) {
    guard let data = stream?.pointee.data, nread != 0 else { return }
    Unmanaged<TCPChannel>.fromOpaque(data).takeUnretainedValue().received(nread)
}

private func channelWritten(_ request: UnsafeMutablePointer<uv_write_t>?, _ status: Int32) {
    guard let data = request?.pointee.data else { return }
    Unmanaged<TCPChannel>.fromOpaque(data).takeUnretainedValue().written(status: status)
}

private func channelClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    guard let handle else { return }
    TCPChannel.release(handle)
}
