import Foundation
import Logging
import Transport

/// The cost of authentication, side by side in one process on loopback: connection setup (TCP
/// connect, handshake, first 64 B inline call) and a 64 B inline call on an open connection, for a
/// server that asks no proof, the cluster secret and an API key; and the CPU time of the MACs alone.
enum AuthBench {
    static func run(rounds: Int, logger: Logger) async throws {
        let secret = try Credentials.cluster(secret: String(repeating: "s", count: 64))
        let key = try Credentials.apiKey("bench." + String(repeating: "k", count: 48))
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("lattice-bench-keys-\(getpid())").path
        try "bench.\(String(repeating: "k", count: 48))\n".write(toFile: keys, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: keys) }

        func server(_ auth: ServerAuth?) throws -> (Server, Int) {
            var config = TransportConfig()
            config.auth = auth
            let server = Server(config: config, logger: logger)
            server.inlineUnary("bench/EchoInline") { payload, _ in payload }
            return (server, try server.start(host: "127.0.0.1", port: 0))
        }
        let auth = ServerAuth(clusterSecret: secret, apiKeysFile: keys, clientMethods: ["bench/EchoInline"])
        let cases: [(String, ServerAuth?, Credentials?)] = [("no proof asked", nil, secret), ("cluster secret", auth, secret), ("API key", auth, key)]
        let payload = [UInt8](repeating: 0x5A, count: 64)
        print("rounds: \(rounds); machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, load \(loadAverage())")
        print("case              setup p50  setup p99   call p50   call p99  (µs; setup = connect + handshake + first call)")
        // A first pass warms up threads and allocators and is not printed.
        for (pass, (name, serverAuth, credentials)) in (cases + cases).enumerated() {
            let (server, port) = try server(serverAuth)
            var config = TransportConfig()
            config.credentials = credentials
            var setups: [Double] = []
            for _ in 0..<(pass < cases.count ? rounds / 5 + 1 : rounds) {
                let start = ContinuousClock.now
                let connection = Connection(host: "127.0.0.1", port: port, config: config, reconnect: .never, logger: logger)
                _ = try await connection.call("bench/EchoInline", payload)
                setups.append(micros(ContinuousClock.now - start))
                await connection.close()
            }
            let connection = Connection(host: "127.0.0.1", port: port, config: config, reconnect: .never, logger: logger)
            _ = try await connection.call("bench/EchoInline", payload)
            var calls: [Double] = []
            for _ in 0..<(rounds * 10) {
                let start = ContinuousClock.now
                _ = try await connection.call("bench/EchoInline", payload)
                calls.append(micros(ContinuousClock.now - start))
            }
            await connection.close()
            await server.shutdown(timeout: .seconds(1))
            guard pass >= cases.count else { continue }
            print(name.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: " %10.1f %10.1f %10.1f %10.1f", name, percentile(setups, 0.5), percentile(setups, 0.99), percentile(calls, 0.5), percentile(calls, 0.99)))
        }
        // The MACs alone: what both sides compute per handshake (client MAC twice: make and check).
        let nonce = Handshake.nonce()
        let start = ContinuousClock.now
        let repeats = 2000
        for _ in 0..<repeats { _ = Handshake.proof(secret, serverNonce: nonce, clientNonce: nonce) }
        print(String(format: "HMAC-SHA256 proof + welcome (one side's MACs): %.1f µs", micros(ContinuousClock.now - start) / Double(repeats)))
    }

    static func micros(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1e6 + Double(attoseconds) / 1e12
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }
}
