import Transport
import Wire

/// A typed client for any Lattice service over one `Connection` (many calls in flight at once).
public final class ServiceClient: Sendable {
    public let host: String
    public let port: Int
    public let connection: Connection
    let config: TransportConfig

    public init(host: String, port: Int, config: TransportConfig = .init(), reconnect: ReconnectPolicy = .default) {
        self.host = host
        self.port = port
        self.config = config
        self.connection = Connection(host: host, port: port, config: config, reconnect: reconnect)
    }

    /// Connects to "HOST:PORT"; throws the transport's parse error (a clear message) on a bad address.
    public convenience init(address: String, config: TransportConfig = .init(), reconnect: ReconnectPolicy = .default) throws {
        let endpoint = try Endpoint(parsing: address)
        self.init(host: endpoint.host, port: endpoint.port, config: config, reconnect: reconnect)
    }

    /// The address as given, with IPv6 in brackets.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// A unary call. Throws `Status`: the server's, or UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED from
    /// the transport, or INTERNAL when the server's answer does not decode as `Response`.
    public func call<Request: WireMessage, Response: WireMessage>(
        _ method: String, _ request: Request, as response: Response.Type = Response.self, deadline: Duration? = nil
    ) async throws -> Response {
        // protobuf-c messages pack straight into the request frame, and the answer is decoded
        // straight from its frame: one copy of a hidden state each way.
        if let bridged = request as? any CBridged {
            return try await connection.call(method, message: bridged, deadline: deadline, decoding: Response.self)
        }
        return try await connection.call(method, request.encode(), deadline: deadline, decoding: Response.self)
    }

    /// A server-streaming call: one `Item` per response until end of stream; throws the final
    /// non-OK `Status`. Items are decoded as the consumer asks for them, so the transport's flow
    /// control reaches the server (a slow consumer pauses its sends). Cancelling the consuming
    /// task, or dropping the stream, cancels the call on the server.
    public func stream<Request: WireMessage, Item: WireMessage>(
        _ method: String, _ request: Request, as item: Item.Type = Item.self, deadline: Duration? = nil
    ) -> AsyncThrowingStream<Item, Error> {
        let payloads = PayloadIterator(connection.stream(method, request.encode(), deadline: deadline).makeAsyncIterator())
        return AsyncThrowingStream {
            guard let payload = try await payloads.next() else { return nil }
            return try decodeResponse(Item.self, payload, method: method)
        }
    }

    /// `<service>/Health`.
    public func health(_ service: ServiceName, deadline: Duration? = .seconds(5)) async throws -> HealthResponse {
        try await call(service.healthMethod, HealthRequest(), deadline: deadline)
    }

    /// `<service>/Stats`.
    public func stats(_ service: ServiceName, deadline: Duration? = .seconds(5)) async throws -> StatsResponse {
        try await call(service.statsMethod, StatsRequest(), deadline: deadline)
    }

    /// Health of whichever service listens here: asks each service's Health in turn and skips
    /// those that answer UNIMPLEMENTED (not this service). Each try gets a fresh connection,
    /// because a server closes a connection that asked for a method it does not serve.
    public func identify(deadline: Duration? = .seconds(5)) async throws -> (ServiceName, HealthResponse) {
        for service in ServiceName.allCases {
            let probe = ServiceClient(host: host, port: port, config: config, reconnect: .never)
            do {
                let health = try await probe.health(service, deadline: deadline)
                await probe.close()
                return (service, health)
            } catch let status as Status where status.code == .unimplemented {
                await probe.close()
            } catch {
                await probe.close()
                throw error
            }
        }
        throw Status(.unimplemented, "\(address) answers no Lattice service's Health method (\(ServiceName.allCases.map(\.healthMethod).joined(separator: ", ")))")
    }

    public func close() async { await connection.close() }
}

func decodeResponse<Response: WireMessage>(_ type: Response.Type, _ payload: [UInt8], method: String) throws -> Response {
    do {
        return try Response(wire: payload)
    } catch {
        throw Status(.internal, "\(method): the response (\(payload.count) bytes) does not decode as \(Response.self): \(error)")
    }
}

/// One consumer's iterator over a call's payloads, shared with the stream that pulls from it
/// (AsyncThrowingStream asks for one element at a time, never concurrently).
private final class PayloadIterator: @unchecked Sendable {
    private var iterator: CallStream.Iterator
    init(_ iterator: CallStream.Iterator) { self.iterator = iterator }
    func next() async throws -> [UInt8]? { try await iterator.next() }
}
