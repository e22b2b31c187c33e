/// "HOST:PORT" as the services take and print it: IPv4, a name, or [IPv6] in brackets.
public enum HostPort {
    /// Splits and checks an address; `source` names the flag or variable in the error.
    public static func parse(_ text: String, source: String) throws -> (host: String, port: Int) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ConfigError("\(source): '\(text)' is not [IPv6]:PORT, e.g. [::1]:7000")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw ConfigError("\(source): '\(text)' is not HOST:PORT, e.g. 127.0.0.1:7000 (IPv6 in brackets: [::1]:7000)")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw ConfigError("\(source): '\(text)' has no host, e.g. 127.0.0.1:7000") }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigError("\(source): '\(portText)' in '\(text)' is not a port number 0-65535")
        }
        return (String(host), port)
    }

    /// Formats an address the way `parse` reads it (brackets around IPv6).
    public static func format(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
