import CLibUV

/// A one-shot or repeating libuv timer. Loop thread only. The handle is freed in its close
/// callback; the timer keeps itself alive until then.
final class LoopTimer {
    private let loop: EventLoop
    private let handle: UnsafeMutablePointer<uv_timer_t>
    private var action: (() -> Void)?
    private var closed = false

    init(loop: EventLoop) {
        loop.assertInLoop("LoopTimer")
        self.loop = loop
        handle = .allocate(capacity: 1)
        uv_timer_init(loop.uv, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// Fires `action` after `milliseconds`, then every `repeatMs` if that is non-zero.
    func start(after milliseconds: UInt64, repeatMs: UInt64 = 0, _ action: @escaping () -> Void) {
        loop.assertInLoop("LoopTimer.start")
        guard !closed else { return }
        self.action = action
        uv_timer_start(handle, loopTimerFired, milliseconds, repeatMs)
    }

    /// Stops the timer and frees it; `action` will not run again.
    func cancel() {
        loop.assertInLoop("LoopTimer.cancel")
        guard !closed else { return }
        closed = true
        action = nil
        uv_timer_stop(handle)
        uv_close(handlePointer(handle), loopTimerClosed)
    }

    fileprivate func fire() { action?() }

    fileprivate static func release(_ raw: UnsafeMutablePointer<uv_handle_t>) {
        guard let data = raw.pointee.data else { return }
        Unmanaged<LoopTimer>.fromOpaque(data).release()
        UnsafeMutableRawPointer(raw).deallocate()
    }
}

private func loopTimerFired(_ handle: UnsafeMutablePointer<uv_timer_t>?) {
    guard let data = handle?.pointee.data else { return }
    Unmanaged<LoopTimer>.fromOpaque(data).takeUnretainedValue().fire()
}

private func loopTimerClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    guard let handle else { return }
    LoopTimer.release(handle)
}

/// Milliseconds from now until `instant` (0 if it has passed).
func millisecondsUntil(_ instant: ContinuousClock.Instant) -> UInt64 {
    let remaining = ContinuousClock.now.duration(to: instant)
    let ms = ReconnectPolicy.milliseconds(remaining)
    return ms <= 0 ? 0 : UInt64(ms.rounded(.up))
}
