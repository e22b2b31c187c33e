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
        let repeats = 3
        print("rounds: \(rounds) connections and \(rounds * 10) calls per case and pass, \(repeats) passes interleaved (medians shown); "
              + "machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, load \(loadAverage())")
        // Per case: each measured pass's setup p50, setup p99, call p50, call p99 (µs).
        var figures = [[[Double]]](repeating: [], count: cases.count)
        // A first pass warms up threads and allocators and is not counted.
        for pass in 0...repeats {
            for (c, (_, serverAuth, credentials)) in cases.enumerated() {
                let (server, port) = try server(serverAuth)
                var config = TransportConfig()
                config.credentials = credentials
                var setups: [Double] = []
                for _ in 0..<(pass == 0 ? rounds / 5 + 1 : rounds) {
                    let start = ContinuousClock.now
                    let connection = Connection(host: "127.0.0.1", port: port, config: config, reconnect: .never, logger: logger)
                    _ = try await connection.call("bench/EchoInline", payload)
                    setups.append(micros(ContinuousClock.now - start))
                    await connection.close()
                }
                let connection = Connection(host: "127.0.0.1", port: port, config: config, reconnect: .never, logger: logger)
                _ = try await connection.call("bench/EchoInline", payload)
                var calls: [Double] = []
                for _ in 0..<(pass == 0 ? rounds : rounds * 10) {
                    let start = ContinuousClock.now
                    _ = try await connection.call("bench/EchoInline", payload)
                    calls.append(micros(ContinuousClock.now - start))
                }
                await connection.close()
                await server.shutdown(timeout: .seconds(1))
                if pass > 0 {
                    figures[c].append([percentile(setups, 0.5), percentile(setups, 0.99), percentile(calls, 0.5), percentile(calls, 0.99)])
                }
            }
        }
        let medians = figures.map { passes in (0..<4).map { i in percentile(passes.map { $0[i] }, 0.5) } }
        print("case              setup p50  setup p99   call p50   call p99   +setup p50  +call p50  (µs; setup = connect + handshake + first call; + = over no proof)")
        for (c, (name, _, _)) in cases.enumerated() {
            let m = medians[c]
            print(name.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + String(format: " %10.1f %10.1f %10.1f %10.1f %12.1f %10.1f", m[0], m[1], m[2], m[3], m[0] - medians[0][0], m[2] - medians[0][2]))
        }
        // The MACs alone: what both sides compute per handshake (client MAC twice: make and check).
        let nonce = Handshake.nonce()
        let start = ContinuousClock.now
        let macs = 2000
        for _ in 0..<macs { _ = Handshake.proof(secret, serverNonce: nonce, clientNonce: nonce) }
        print(String(format: "HMAC-SHA256 proof + welcome (one side's MACs): %.1f µs", micros(ContinuousClock.now - start) / Double(macs)))
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
