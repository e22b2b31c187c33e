import Transport
import Wire

extension Server {
    /// Registers a unary method over Swift message types. The request is decoded straight from
    /// its frame (see `Server.unary(_:decoding:nonBlocking:_:)`); one that does not decode is
    /// answered INVALID_ARGUMENT naming the method and the message type. `nonBlocking`: the
    /// handler runs on the transport's loop (see `Server.unary(_:nonBlocking:_:)`).
    public func unary<Request: WireMessage, Response: WireMessage>(
        _ method: String, _ request: Request.Type, nonBlocking: Bool = false,
        _ handler: nonisolated(nonsending) @escaping @Sendable (Request, CallContext) async throws -> Response
    ) {
        unary(method, decoding: Request.self, nonBlocking: nonBlocking) { request, context in
            try await handler(request, context).encode()
        }
    }

    /// Registers a server-streaming method over Swift message types.
    public func stream<Request: WireMessage, Item: WireMessage>(
        _ method: String, _ request: Request.Type, _ item: Item.Type, nonBlocking: Bool = false,
        _ handler: nonisolated(nonsending) @escaping @Sendable (Request, CallContext, TypedStreamWriter<Item>) async throws -> Void
    ) {
        stream(method, decoding: Request.self, nonBlocking: nonBlocking) { request, context, writer in
            try await handler(request, context, TypedStreamWriter(writer))
        }
    }
}

/// A stream sink for one message type; `send` suspends while the connection's write queue is full.
public struct TypedStreamWriter<Item: WireMessage>: Sendable {
    public let raw: StreamWriter
    public init(_ raw: StreamWriter) { self.raw = raw }
    public func send(_ item: Item) async throws { try await raw.send(item.encode()) }
}
