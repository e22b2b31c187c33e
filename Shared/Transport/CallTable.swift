import Wire

/// A client's calls in flight, matched to answers by call id, each remembering which socket
/// (numbered by the client) its request went out on. Pure Swift (no sockets), so matching,
/// streaming and failure rules are testable on their own.
struct CallTable {
    enum Waiter {
        case unary(UnsafeContinuation<[UInt8], Error>)   // resumed once: whoever takes the call out of the table
        case stream(StreamBuffer)
        /// Called once on the loop thread, with the answer's payload still in its frame.
        case callback(Answer)
    }

    /// A unary answer handed over without a Task or continuation: on the loop thread, the
    /// payload borrowed from the frame (valid only during the call), or the call's failure.
    typealias Answer = @Sendable (Result<UnsafeRawBufferPointer, Status>) -> Void

    struct Call {
        let method: String
        let waiter: Waiter
        /// The whole request frame until it is handed to a socket; nil once sent.
        var request: FrameBytes?
        /// The number of the socket the request went out on (0 = not sent yet).
        var sentOn = 0
        /// Runs when the call leaves the table (stops its deadline timer).
        var onEnd: (() -> Void)?
    }

    private var calls = CallMap<Call>()
    /// Ids in the order their requests were made, for sending unsent ones after a connect.
    private var unsentOrder: [UInt64] = []

    var isEmpty: Bool { calls.isEmpty }
    var count: Int { calls.count }
    var hasUnsent: Bool { calls.entries.contains { $0.value.request != nil } }
    /// Bytes of requests not yet handed to a socket (scanned: only asked while not connected).
    var unsentBytes: Int { calls.entries.reduce(0) { $0 + ($1.value.request?.count ?? 0) } }

    /// Ends a call that never entered the table.
    static func refuse(_ waiter: Waiter, _ status: Status) { resume(waiter, throwing: status) }

    mutating func insert(_ id: UInt64, _ call: Call) {
        calls.insert(id, call)
        if call.request != nil { unsentOrder.append(id) }
    }

    /// The requests not yet sent, oldest first; marks them sent on socket `socket`.
    mutating func takeUnsent(sendingOn socket: Int) -> [FrameBytes] {
        var out: [FrameBytes] = []
        out.reserveCapacity(unsentOrder.count)
        for id in unsentOrder {
            calls.update(id) { call in
                guard let request = call.request else { return }   // sent meanwhile
                out.append(request)
                call.request = nil
                call.sentOn = socket
            }
        }
        unsentOrder.removeAll()
        return out
    }

    /// Takes the request of one call to send it now on socket `socket`; nil if it is gone or
    /// already sent.
    mutating func takeRequest(_ id: UInt64, sendingOn socket: Int) -> FrameBytes? {
        guard let request = calls[id]?.request else { return nil }
        calls.update(id) { call in
            call.request = nil
            call.sentOn = socket
        }
        if unsentOrder.last == id { unsentOrder.removeLast() }
        return request
    }

    /// Makes these calls' requests unsent again, ahead of later ones (they were marked sent, but
    /// their socket stopped taking calls before they went out).
    mutating func restoreUnsent(_ held: [(id: UInt64, request: FrameBytes)]) {
        var restored: [UInt64] = []
        for (id, request) in held {
            let found = calls.update(id) { call -> Bool in
                call.request = request
                call.sentOn = 0
                return true
            }
            if found == true { restored.append(id) }
        }
        unsentOrder.insert(contentsOf: restored, at: 0)
    }

    /// The socket call `id`'s request went out on (nil: no such call, or not sent yet).
    func sentOn(_ id: UInt64) -> Int? {
        guard let socket = calls[id]?.sentOn, socket != 0 else { return nil }
        return socket
    }

    /// Sets what runs when call `id` leaves the table; false if it already left.
    mutating func setOnEnd(_ id: UInt64, _ onEnd: @escaping () -> Void) -> Bool {
        calls.update(id) { $0.onEnd = onEnd } != nil
    }

    /// A response matched to its caller, to be handed over with `resume` (by an owner that holds
    /// a lock around the table: outside it, so a resumed caller never waits for it).
    struct Delivery {
        let waiter: Waiter
        let status: Status?
        let endOfStream: Bool

        /// Hands `payload` (the response's, still in its frame) to the caller: copied into an
        /// array of its own for a Task or a stream, lent to a callback.
        func resume(_ payload: UnsafeRawBufferPointer) {
            let status = status ?? .ok
            switch waiter {
            case .unary(let continuation):
                if status.isOK { continuation.resume(returning: Handler.copy(payload)) } else { continuation.resume(throwing: status) }
            case .stream(let buffer):
                if !payload.isEmpty || !endOfStream { buffer.push(Handler.copy(payload)) }
                if endOfStream { buffer.finish(status) }
            case .callback(let answer):
                answer(status.isOK ? .success(payload) : .failure(status))
            }
        }
    }

    /// Routes one RESPONSE envelope, its payload in it, to its call. Returns false when no call
    /// has that id (it already ended: cancelled or past its deadline).
    @discardableResult
    mutating func deliver(_ response: Envelope) -> Bool {
        guard let delivery = route(response) else { return false }
        response.payload.withUnsafeBytes { delivery.resume($0) }
        return true
    }

    /// Matches one RESPONSE (its payload left in the frame) to its call, ending the call unless
    /// it is a stream item; nil when no call has that id (it already ended: cancelled or past
    /// its deadline).
    mutating func route(_ response: borrowing Envelope) -> Delivery? {
        let id = response.callID, endOfStream = response.endOfStream
        let waiter: Waiter
        if endOfStream {
            guard let call = calls.removeValue(forKey: id) else { return nil }
            call.onEnd?()
            waiter = call.waiter
        } else {
            guard let call = calls[id] else { return nil }
            if case .stream = call.waiter {} else { end(id) }
            waiter = call.waiter
        }
        return Delivery(waiter: waiter, status: response.status, endOfStream: endOfStream)
    }

    /// Ends one call with `status`. Returns whether it existed and the socket its request went
    /// out on (0 = never sent), so the caller can tell the server with CANCEL.
    @discardableResult
    mutating func fail(_ id: UInt64, _ status: Status) -> (existed: Bool, sentOn: Int) {
        guard let call = calls[id] else { return (false, 0) }
        end(id)
        Self.resume(call.waiter, throwing: status)
        return (true, call.sentOn)
    }

    /// Ends every call (or only those sent on socket `socket`) with `status`.
    mutating func failAll(_ status: Status, sentOn socket: Int? = nil) {
        for (id, call) in calls.entries where socket == nil || call.sentOn == socket {
            end(id)
            Self.resume(call.waiter, throwing: status)
        }
    }

    private mutating func end(_ id: UInt64) {
        calls.removeValue(forKey: id)?.onEnd?()
    }

    /// A callback is told on a later turn of the loop: never under its owner's lock, nor inside
    /// whatever failed it (it may start calls of its own).
    private static func resume(_ waiter: Waiter, throwing status: Status) {
        switch waiter {
        case .unary(let continuation): continuation.resume(throwing: status)
        case .stream(let buffer): buffer.finish(status)
        case .callback(let answer): EventLoop.shared.execute { answer(.failure(status)) }
        }
    }
}
