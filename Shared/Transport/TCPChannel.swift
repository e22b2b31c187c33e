import CLibUV
import Foundation
import Wire

/// One TCP connection carrying frames: reads are split into frames, writes are queued and sent
/// in batches (one writev of every queued frame, straight from their own memory), one uv_write
/// at a time. Reading, closing and the uv_write machinery are loop-thread only (the one place,
/// with `Listener` and `LoopTimer`, that touches libuv sockets). Writing is the exception:
/// `writeFromAnyThread` lets a caller send a frame itself when nothing is queued, which saves
/// waking the loop thread on the latency path. The write state therefore sits behind
/// `writeLock`, so a direct send and libuv's own writes never interleave and frames keep their
/// order. The loop skips that lock until the channel's owner shares its writes
/// (`shareWrites`, before another thread may call `writeFromAnyThread`): a connection whose
/// frames are all written on the loop takes no lock per frame. The handle keeps the channel
/// alive until its close callback frees it.
final class TCPChannel: @unchecked Sendable {
    let loop: EventLoop
    let tcp: UnsafeMutablePointer<uv_tcp_t>
    private var decoder: FrameDecoder
    /// The largest frame taken from now on; applied between frames, never inside one's delivery.
    var maxFrameBytes: Int
    private let writeRequest: UnsafeMutablePointer<uv_write_t>
    private var fd: Int32 = -1                 // the socket, for direct sends (-1 until connected)

    // Write state, guarded by writeLock (touched by the loop and, once shared, by direct senders).
    private let writeLock: LoopSharedLock
    private var pending: [FrameBytes] = []     // frames waiting for the next write
    private var pendingBytes = 0
    private var headSent = 0                   // bytes of pending[0] a direct send already wrote
    private var inFlight: [FrameBytes] = []    // frames libuv is writing now (kept alive for it)
    private var inFlightBytes = 0
    private var writing = false
    private var flushScheduled = false
    private var acceptsWrites = true           // false once closing: no new frames, fd may go

    private var buffers: [uv_buf_t] = []
    private var reading = false
    private var readingDirect = false          // the read in progress goes into the decoder
    private var delivering = false
    private var flushTimer: LoopTimer?
    private(set) var isClosed = false
    private var closeWhenFlushed = false
    private(set) var peer = "unconnected"
    private(set) var bytesReceived: UInt64 = 0

    /// A complete frame body arrived (valid only during the call).
    var onFrame: ((UnsafeBufferPointer<UInt8>) -> Void)?
    /// Every complete frame of one read was handed to `onFrame`.
    var onFramesDelivered: (() -> Void)?
    /// The byte stream broke the framing rules (e.g. a length over the maximum).
    var onFrameError: ((FrameError) -> Void)?
    /// A write finished; queued bytes went down.
    var onWritten: (() -> Void)?
    /// The connection is closed (by us or the peer), with the reason.
    var onClosed: ((String) -> Void)?

    init(loop: EventLoop, maxFrameBytes: Int) {
        self.loop = loop
        decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
        self.maxFrameBytes = maxFrameBytes
        writeLock = LoopSharedLock(loop: loop)
        tcp = .allocate(capacity: 1)
        uv_tcp_init(loop.uv, tcp)
        writeRequest = .allocate(capacity: 1)
        tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()   // released in the close callback
    }

    var stream: UnsafeMutablePointer<uv_stream_t> { streamPointer(tcp) }

    /// Bytes queued for the socket and not yet written. Loop thread only.
    var queuedBytes: Int { writeLock.fromLoop { pendingBytes + inFlightBytes } }

    /// Loop thread: from now on other threads may call `writeFromAnyThread` (the owner calls it
    /// before it hands this channel to one: a server's call for the handler threads, a client's
    /// call made off the loop). Until then the loop writes without the lock.
    func shareWrites() { writeLock.share() }

    /// Called once the socket is connected (accepted or connected out).
    func didConnect() {
        loop.assertInLoop("TCPChannel.didConnect")
        uv_tcp_nodelay(tcp, 1)
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutableBytes(of: &storage) { raw in
            uv_tcp_getpeername(tcp, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        if rc == 0 { peer = SocketAddress(storage: storage).text }
        var descriptor = uv_os_fd_t(-1)
        if uv_fileno(handlePointer(tcp), &descriptor) == 0 { writeLock.fromLoop { fd = Int32(descriptor) } }
        resumeReading()
    }

    /// Starts (again) taking frames: first those already buffered, then from the socket.
    func resumeReading() {
        loop.assertInLoop("TCPChannel.resumeReading")
        guard !isClosed, !reading, !closeWhenFlushed else { return }
        reading = uv_read_start(stream, channelAllocate, channelRead) == 0
        if reading { deliverFrames() }
    }

    func pauseReading() {
        loop.assertInLoop("TCPChannel.pauseReading")
        guard !isClosed, reading else { return }
        uv_read_stop(stream)
        reading = false
    }

    var isReading: Bool { reading }

    /// Queues one whole frame (prefix included, see `EnvelopeCodec.frame`); the loop writes
    /// what queued up at the end of this iteration, in one writev. Loop thread only.
    /// Returns the bytes queued now (as `queuedBytes`).
    @discardableResult
    func write(_ frame: FrameBytes) -> Int {
        loop.assertInLoop("TCPChannel.write")
        let (schedule, queued) = writeLock.fromLoop { () -> (Bool, Int) in
            let schedule = acceptsWrites && enqueue(frame, alreadySent: 0)
            return (schedule, pendingBytes + inFlightBytes)
        }
        if schedule { loop.scheduleFlush(self) }
        return queued
    }

    /// Sends one whole frame from any thread: straight into the socket when nothing is queued
    /// ahead of it (the common case for a lone call), else (or for whatever the kernel did not
    /// take) queued for the loop, which is woken to write it. Never blocks. Off the loop only
    /// once the owner has called `shareWrites`.
    func writeFromAnyThread(_ frame: FrameBytes) {
        let onLoopThread = loop.inLoopThread
        assert(onLoopThread || writeLock.isShared, "TCPChannel.writeFromAnyThread off the loop before shareWrites")
        let schedule = writeLock.withAccess(onLoopThread: onLoopThread) { () -> Bool in
            guard acceptsWrites else { return false }
            var sent = 0
            if fd >= 0, !writing, pending.isEmpty {
                let n = Self.sendNow(frame, on: fd)
                if n > 0 { sent = n }
                // EAGAIN and real errors alike: the loop's uv_write retries and reports failures.
            }
            return sent < frame.count && enqueue(frame, alreadySent: sent)
        }
        if schedule { loop.execute { [self] in flush() } }
    }

    /// As much of `frame` as the socket takes now, without blocking: one send, or one sendmsg of
    /// its pieces around a tail (a large payload written from its own array).
    private static func sendNow(_ frame: FrameBytes, on fd: Int32) -> Int {
        let flags = Int32(MSG_NOSIGNAL | MSG_DONTWAIT)
        guard frame.tail != nil else { return send(fd, frame.base, frame.count, flags) }
        var pieces: [iovec] = []
        frame.forEachPiece { pieces.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: $0), iov_len: $1)) }
        return pieces.withUnsafeMutableBufferPointer { pieces in
            var message = msghdr()
            message.msg_iov = pieces.baseAddress
            message.msg_iovlen = pieces.count
            return sendmsg(fd, &message, flags)
        }
    }

    /// Adds a frame to the queue (writeLock held); true if a flush must be scheduled.
    private func enqueue(_ frame: FrameBytes, alreadySent: Int) -> Bool {
        if pending.isEmpty { headSent = alreadySent }
        pending.append(frame)
        pendingBytes += frame.count - alreadySent
        guard !writing, !flushScheduled else { return false }
        flushScheduled = true
        return true
    }

    /// Writes what queued up (called by the loop once per iteration, or after a direct send
    /// left bytes behind).
    func flush() {
        loop.assertInLoop("TCPChannel.flush")   // uv_write
        writeLock.fromLoop {
            flushScheduled = false
            if !writing && !isClosed { startWrite() }
        }
    }

    /// Closes once everything queued has been written (a final error answer, a drained server).
    func closeAfterFlush(reason: String) {
        loop.assertInLoop("TCPChannel.closeAfterFlush")
        guard !isClosed else { return }
        pauseReading()
        // One step: a direct send cannot slip in between and be cut off by the close.
        let queued = writeLock.fromLoop { () -> Int in
            acceptsWrites = false
            return pendingBytes + inFlightBytes
        }
        if queued == 0 { close(reason: reason); return }
        closeWhenFlushed = true
        flushReason = reason
        // A peer that never reads must not keep the connection open forever.
        let timer = LoopTimer(loop: loop)
        timer.start(after: 2000) { [self] in close(reason: reason + " (answer not read within 2 s)") }
        flushTimer = timer
    }
    private var flushReason = ""

    func close(reason: String) {
        loop.assertInLoop("TCPChannel.close")
        guard !isClosed else { return }
        isClosed = true
        writeLock.fromLoop { acceptsWrites = false }   // from here on nobody touches the fd
        reading = false
        flushTimer?.cancel()
        flushTimer = nil
        uv_close(handlePointer(tcp), channelClosed)   // pending write callbacks run first, with ECANCELED
        let closed = onClosed
        onFrame = nil; onFramesDelivered = nil; onFrameError = nil; onWritten = nil; onClosed = nil
        closed?(reason)
    }

    /// Hands every queued frame to one uv_write (writeLock held). libuv may write part of it
    /// right here; `writing` keeps direct senders out until its callback.
    private func startWrite() {
        guard !pending.isEmpty else { return }
        swap(&pending, &inFlight)
        inFlightBytes = pendingBytes
        pendingBytes = 0
        buffers.removeAll(keepingCapacity: true)
        for (index, frame) in inFlight.enumerated() {
            let skip = index == 0 ? headSent : 0
            frame.forEachPiece(skipping: skip) { start, count in
                buffers.append(uv_buf_init(UnsafeMutableRawPointer(mutating: start).assumingMemoryBound(to: CChar.self), UInt32(count)))
            }
        }
        headSent = 0
        writeRequest.pointee.data = tcp.pointee.data
        let rc = uv_write(writeRequest, stream, buffers, UInt32(buffers.count), channelWritten)   // libuv copies the buffer list
        if rc < 0 {
            inFlight.removeAll()
            inFlightBytes = 0
            let reason = "write failed: \(uvErrorText(rc))"
            loop.execute { [self] in close(reason: reason) }   // not under writeLock: close takes it
        } else {
            writing = true
        }
    }

    fileprivate func written(status: Int32) {
        loop.assertInLoop("TCPChannel.written")
        let queued = writeLock.fromLoop { () -> Int in
            writing = false
            inFlight.removeAll(keepingCapacity: true)
            inFlightBytes = 0
            if status >= 0, !isClosed, !pending.isEmpty { startWrite() }
            return pendingBytes + inFlightBytes
        }
        guard !isClosed else { return }
        if status < 0 {
            close(reason: "write failed: \(uvErrorText(status))")
            return
        }
        if closeWhenFlushed && queued == 0 { close(reason: flushReason); return }
        onWritten?()
    }

    fileprivate func received(_ nread: Int) {
        loop.assertInLoop("TCPChannel.received")
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
        if readingDirect {
            decoder.didRead(nread)   // the rest of a large frame, read straight into the decoder
        } else {
            deliverInPlace(UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<nread]))
        }
        deliverFrames()
    }

    /// Where the next read goes: straight into the decoder while a large frame is pending,
    /// else the loop's shared read buffer.
    fileprivate func readTarget() -> UnsafeMutableRawBufferPointer {
        if let space = decoder.readSpace() {
            readingDirect = true
            return space
        }
        readingDirect = false
        return loop.readBuffer
    }

    /// Hands the whole frames of a read to `onFrame` from the read buffer itself; the decoder
    /// keeps the rest (a partial frame, or frames held back while reading is paused).
    private func deliverInPlace(_ chunk: UnsafeRawBufferPointer) {
        guard !delivering else { decoder.append(chunk); return }
        delivering = true
        defer { delivering = false }
        // The handler is read once per read, not per frame (a retain and a release of its
        // context per frame, on both ends, in perf); once the channel closes (which clears
        // it) `limit` stops the delivery before the next frame.
        let onFrame = onFrame
        do {
            try decoder.takeFrames(from: chunk, limit: {
                reading && !isClosed && !closeWhenFlushed ? maxFrameBytes : nil
            }) { onFrame?($0) }
        } catch let error as FrameError {
            onFrameError?(error)
        } catch {
            close(reason: "framing failed: \(error)")
        }
    }

    /// Hands buffered frames over until none is complete or the owner pauses reading (then the
    /// rest stays buffered: at most one read's worth).
    private func deliverFrames() {
        // Not re-entrant: a frame handler that resumes reading lets the running loop go on.
        guard !delivering else { return }
        delivering = true
        defer { delivering = false }
        do {
            while reading, !isClosed, !closeWhenFlushed {
                decoder.maxFrameBytes = maxFrameBytes
                guard try decoder.withNextFrame({ onFrame?($0) }) != nil else { break }
            }
            onFramesDelivered?()
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
    guard let buffer, let data = handle?.pointee.data else { return }
    let target = Unmanaged<TCPChannel>.fromOpaque(data).takeUnretainedValue().readTarget()
    buffer.pointee = uv_buf_init(target.baseAddress?.assumingMemoryBound(to: CChar.self), UInt32(target.count))
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
