import CLibUV
import Foundation
import Wire

/// An IPv4 or IPv6 socket address, as libuv's bind and connect take it.
struct SocketAddress: @unchecked Sendable {
    var storage = sockaddr_storage()

    /// Parses a numeric IPv4 or IPv6 host without any lookup; nil for a host name.
    static func numeric(host: String, port: Int) -> SocketAddress? {
        var address = SocketAddress()
        let ok = withUnsafeMutableBytes(of: &address.storage) { raw -> Bool in
            let base = raw.baseAddress!
            if uv_ip4_addr(host, Int32(port), base.assumingMemoryBound(to: sockaddr_in.self)) == 0 { return true }
            return uv_ip6_addr(host, Int32(port), base.assumingMemoryBound(to: sockaddr_in6.self)) == 0
        }
        return ok ? address : nil
    }

    /// Resolves `host` with getaddrinfo (blocking: never call it on the loop thread).
    static func resolve(host: String, port: Int) throws -> SocketAddress {
        if let numeric = numeric(host: host, port: port) { return numeric }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result, let sa = first.pointee.ai_addr else {
            let reason = rc == 0 ? "no address" : String(cString: gai_strerror(rc))
            throw Status(.unavailable, "cannot resolve host '\(host)': \(reason); use an IP address or a name in /etc/hosts")
        }
        defer { freeaddrinfo(result) }
        var address = SocketAddress()
        withUnsafeMutableBytes(of: &address.storage) { raw in
            raw.baseAddress!.copyMemory(from: sa, byteCount: Int(first.pointee.ai_addrlen))
        }
        return address
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self)) }
    }

    /// "127.0.0.1:53412" or "[::1]:53412".
    var text: String {
        withUnsafeBytes(of: storage) { raw -> String in
            var name = [CChar](repeating: 0, count: 64)
            func text(_ name: [CChar]) -> String {
                String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            let family = Int32(storage.ss_family)
            if family == AF_INET {
                let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                uv_ip4_name(sin, &name, name.count)
                return "\(text(name)):\(UInt16(bigEndian: sin.pointee.sin_port))"
            } else if family == AF_INET6 {
                let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                uv_ip6_name(sin6, &name, name.count)
                return "[\(text(name))]:\(UInt16(bigEndian: sin6.pointee.sin6_port))"
            }
            return "unknown-address"
        }
    }

    /// The same address with another port (the port a first listener picked, for the others).
    func withPort(_ port: Int) -> SocketAddress {
        var copy = self
        withUnsafeMutableBytes(of: &copy.storage) { raw in
            guard let base = raw.baseAddress else { return }
            if Int32(storage.ss_family) == AF_INET6 {
                base.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_port = UInt16(clamping: port).bigEndian
            } else {
                base.assumingMemoryBound(to: sockaddr_in.self).pointee.sin_port = UInt16(clamping: port).bigEndian
            }
        }
        return copy
    }

    var port: Int {
        withUnsafeBytes(of: storage) { raw -> Int in
            if Int32(storage.ss_family) == AF_INET6 {
                return Int(UInt16(bigEndian: raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_port))
            }
            return Int(UInt16(bigEndian: raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self).pointee.sin_port))
        }
    }
}
