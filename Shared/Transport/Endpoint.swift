/// A "HOST:PORT" address: IPv4, `[IPv6]` or a host name.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws {
        let trimmed = text.trimmingWhitespace()
        let hint = "write HOST:PORT, for example 127.0.0.1:7000, localhost:7000 or [::1]:7000"
        let hostPart: Substring
        let portPart: Substring
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else {
                throw EndpointError("'\(text)': IPv6 address has no closing ']'; \(hint)")
            }
            hostPart = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else { throw EndpointError("'\(text)': missing ':PORT' after ']'; \(hint)") }
            portPart = rest.dropFirst()
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else {
                throw EndpointError("'\(text)': missing ':PORT'; \(hint)")
            }
            hostPart = trimmed[..<colon]
            portPart = trimmed[trimmed.index(after: colon)...]
            if hostPart.contains(":") {
                throw EndpointError("'\(text)': an IPv6 address needs brackets; \(hint)")
            }
        }
        guard !hostPart.isEmpty else { throw EndpointError("'\(text)': empty host; \(hint)") }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw EndpointError("'\(text)': port '\(portPart)' is not a number in 0...65535; \(hint)")
        }
        self.host = String(hostPart)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why a "HOST:PORT" text could not be parsed.
public struct EndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension String {
    func trimmingWhitespace() -> Substring {
        var view = self[...]
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return view
    }
}

extension Endpoint {
    /// The numeric socket address this endpoint names ("127.0.0.1:7001"), after a blocking name
    /// lookup: two spellings of one address compare equal.
    public func resolvedAddress() throws -> String {
        try SocketAddress.resolve(host: host, port: port).text
    }
}
