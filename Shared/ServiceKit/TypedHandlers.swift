import Transport
import Wire

extension Server {
    /// Registers a unary method over Swift message types. A request payload that does not decode
    /// answers INVALID_ARGUMENT naming the method and the message type. `nonBlocking`: the handler
    /// runs on the transport's loop (see `Server.unary(_:nonBlocking:_:)`).
    public func unary<Request: WireMessage, Response: WireMessage>(
        _ method: String, _ request: Request.Type, nonBlocking: Bool = false,
        _ handler: @escaping @Sendable (Request, CallContext) async throws -> Response
    ) {
        unary(method, nonBlocking: nonBlocking) { payload, context in
            try await handler(try decodeRequest(Request.self, payload, method: method), context).encode()
        }
    }

    /// Registers a server-streaming method over Swift message types.
    public func stream<Request: WireMessage, Item: WireMessage>(
        _ method: String, _ request: Request.Type, _ item: Item.Type, nonBlocking: Bool = false,
        _ handler: @escaping @Sendable (Request, CallContext, TypedStreamWriter<Item>) async throws -> Void
    ) {
        stream(method, nonBlocking: nonBlocking) { payload, context, writer in
            try await handler(try decodeRequest(Request.self, payload, method: method), context, TypedStreamWriter(writer))
        }
    }
}

/// A stream sink for one message type; `send` suspends while the connection's write queue is full.
public struct TypedStreamWriter<Item: WireMessage>: Sendable {
    public let raw: StreamWriter
    public init(_ raw: StreamWriter) { self.raw = raw }
    public func send(_ item: Item) async throws { try await raw.send(item.encode()) }
}

func decodeRequest<Request: WireMessage>(_ type: Request.Type, _ payload: [UInt8], method: String) throws -> Request {
    do {
        return try Request(wire: payload)
    } catch {
        // A payload that does not decode means the peer speaks another protocol: answer, then close.
        throw ProtocolViolation(Status(.invalidArgument, "\(method): the request payload (\(payload.count) bytes) does not decode as \(Request.self): \(error)"))
    }
}
