import Foundation
import Wire

/// The items of one server-streaming call, in order; ends at the server's end of stream and
/// throws its non-OK status. Flow control: items wait here only until the consumer takes them,
/// and the server may send ahead at most about `TransportConfig.streamWindowBytes` (see
/// common.proto's `Envelope.window`): a slow consumer pauses the server's sends instead of
/// growing this buffer. Cancelling the consuming Task ends the iteration (as AsyncThrowingStream
/// does) and, like dropping the stream before its end, cancels the call on the server.
public struct CallStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let buffer: StreamBuffer
    private let owner: Owner

    init(_ buffer: StreamBuffer) {
        self.buffer = buffer
        owner = Owner(buffer)
    }

    public func makeAsyncIterator() -> Iterator { Iterator(buffer: buffer, owner: owner) }

    public struct Iterator: AsyncIteratorProtocol {
        let buffer: StreamBuffer
        let owner: Owner

        public mutating func next() async throws -> [UInt8]? { try await buffer.next() }
    }

    /// Cancels the call once nothing can read the stream any more (it was dropped unfinished).
    final class Owner: Sendable {
        let buffer: StreamBuffer
        init(_ buffer: StreamBuffer) { self.buffer = buffer }
        deinit { buffer.abandon() }
    }
}

/// A stream's received items and its window accounting, between the loop (which delivers) and
/// the consumer (which takes). Bytes received and not yet granted back (`outstanding`) stay
/// under the window plus one item, or the server broke the protocol.
final class StreamBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [[UInt8]] = []
    private var head = 0                   // items before it were taken
    private var bufferedBytes = 0
    private var outstanding = 0            // received, not yet granted back
    private var consumedUngranted = 0
    private var ended: Status?             // .ok: finished
    private var consumerCancelled = false  // the consumer's Task was: iteration just ends
    private var waiter: CheckedContinuation<[UInt8]?, Error>?
    let window: Int                        // 0: no flow control
    let method: String
    private let counters: ClientCounters
    /// Sends a WINDOW_UPDATE (from any thread); set by the connection.
    var grant: (@Sendable (Int) -> Void)?
    /// Ends the call on the server side with this status (CANCEL); set by the connection.
    var cancel: (@Sendable (Status) -> Void)?

    init(window: Int, method: String, counters: ClientCounters) {
        self.window = window
        self.method = method
        self.counters = counters
    }

    /// Loop: one item arrived.
    func push(_ item: [UInt8]) {
        var overrun: Status?
        let handOver = lock.withLock { () -> CheckedContinuation<[UInt8]?, Error>? in
            guard ended == nil else { return nil }
            outstanding += item.count
            if window > 0, outstanding > window, outstanding - item.count > window / 2 {
                overrun = Status(.resourceExhausted, "'\(method)': the server sent \(outstanding) stream bytes not yet taken, past the window of \(window) bytes this client grants (TransportConfig.streamWindowBytes)")
                return nil
            }
            if let waiter {
                self.waiter = nil
                return waiter
            }
            items.append(item)
            bufferedBytes += item.count
            counters.noteBuffered(bufferedBytes)
            return nil
        }
        if let overrun {
            counters.add(.streamOverrun)
            cancel?(overrun)   // fails this stream through the call table, and tells the server
            return
        }
        if let handOver {
            takeGrant(item.count)
            handOver.resume(returning: item)
        }
    }

    /// Loop: the call ended (OK, or with the status that ends it).
    func finish(_ status: Status) {
        let handOver = lock.withLock { () -> CheckedContinuation<[UInt8]?, Error>? in
            guard ended == nil else { return nil }
            ended = status
            defer { waiter = nil }
            return waiter
        }
        guard let handOver else { return }
        if status.isOK || lock.withLock({ consumerCancelled }) { handOver.resume(returning: nil) } else { handOver.resume(throwing: status) }
    }

    /// Consumer: the next item, nil at the end.
    func next() async throws -> [UInt8]? {
        if let taken = try take() { return taken.item }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, Error>) in
                do {
                    if let taken = try take(orWait: continuation) { continuation.resume(returning: taken.item) }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: { [self] in
            lock.withLock { consumerCancelled = true }
            cancel?(Status(.cancelled, "call was cancelled by the caller"))
        }
    }

    private enum Taken {
        case item([UInt8]), end
        var item: [UInt8]? { if case .item(let item) = self { item } else { nil } }
    }

    /// An item taken, or the end; nil when none is there yet (then `continuation`, if given,
    /// waits for the next).
    private func take(orWait continuation: CheckedContinuation<[UInt8]?, Error>? = nil) throws -> Taken? {
        let (item, status): ([UInt8]?, Status?) = lock.withLock {
            if head < items.count {
                let item = items[head]
                items[head] = []
                head += 1
                bufferedBytes -= item.count
                if head == items.count { items.removeAll(keepingCapacity: true); head = 0 }
                return (item, nil)
            }
            if let ended { return (nil, ended) }
            waiter = continuation
            return (nil, nil)
        }
        if let item {
            takeGrant(item.count)
            return .item(item)
        }
        guard let status else { return nil }
        if status.isOK || lock.withLock({ consumerCancelled }) { return .end }
        throw status
    }

    /// Counts a taken item; grants the consumed bytes back once they reach half the window.
    private func takeGrant(_ count: Int) {
        guard window > 0 else { return }
        let granted = lock.withLock { () -> Int in
            consumedUngranted += count
            guard consumedUngranted >= window / 2 else { return 0 }
            defer { consumedUngranted = 0 }
            outstanding -= consumedUngranted
            return consumedUngranted
        }
        if granted > 0 { grant?(granted) }
    }

    /// The stream was dropped before its end: cancel the call.
    func abandon() {
        guard lock.withLock({ ended == nil }) else { return }
        cancel?(Status(.cancelled, "call was cancelled by the caller (its stream was dropped)"))
    }
}
