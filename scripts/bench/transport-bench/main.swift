// The Swift side of scripts/bench-transport: an echo server and a pipelining client on the
// Lattice transport, printing the same figures as the raw libuv floor (scripts/bench/uv-echo.c).
//
//   transport-bench server PORT
//   transport-bench client PORT SIZE INFLIGHT SECONDS [METHOD]    prints: calls p50_us p99_us calls_per_s
//
//   transport-bench auth ROUNDS      what the handshake costs (scripts/bench-auth)
//
// METHOD is bench/Echo (a handler on Swift concurrency, the default) or bench/EchoInline (an
// inline handler, run on the loop thread).
import Foundation
import Logging
import Transport

let arguments = CommandLine.arguments
var logger = Logger(label: "transport-bench")
logger.logLevel = .warning

func fail(_ message: String) -> Never {
    print("transport-bench: \(message)")
    exit(2)
}

if arguments.count == 3, arguments[1] == "server", let port = Int(arguments[2]) {
    let server = Server(logger: logger)
    server.unary("bench/Echo") { payload, _ in payload }
    server.inlineUnary("bench/EchoInline") { payload, _ in payload }
    do { _ = try server.start(host: "127.0.0.1", port: port) } catch { fail("\(error)") }
    while true { try await Task.sleep(for: .seconds(3600)) }
} else if arguments.count == 6 || arguments.count == 7, arguments[1] == "client", let port = Int(arguments[2]), let size = Int(arguments[3]),
          let inflight = Int(arguments[4]), let seconds = Double(arguments[5]) {
    let method = arguments.count == 7 ? arguments[6] : "bench/Echo"
    let connection = Connection(host: "127.0.0.1", port: port, reconnect: .never, logger: logger)
    let payload = [UInt8](repeating: 0x5A, count: size)
    do { _ = try await connection.call(method, payload) } catch { fail("warm-up call failed: \(error)") }
    let clock = ContinuousClock()
    let start = clock.now
    let end = start + .milliseconds(Int(seconds * 1000))
    let (latencies, errors) = await withTaskGroup(of: ([Int64], Int).self) { group in
        for _ in 0..<inflight {
            group.addTask {
                var samples: [Int64] = []
                samples.reserveCapacity(1 << 16)
                var errors = 0
                while clock.now < end {
                    let t0 = clock.now
                    do {
                        let answer = try await connection.call(method, payload)
                        if answer.count != size { errors += 1 }
                    } catch { errors += 1 }
                    let (s, atto) = (clock.now - t0).components
                    samples.append(s * 1_000_000_000 + atto / 1_000_000_000)
                }
                return (samples, errors)
            }
        }
        var all: [Int64] = []
        var errors = 0
        for await (samples, failed) in group { all += samples; errors += failed }
        return (all, errors)
    }
    let (s, atto) = (clock.now - start).components
    let elapsed = Double(s) + Double(atto) / 1e18
    let sorted = latencies.sorted()
    guard !sorted.isEmpty else { fail("no calls completed") }
    let p50 = Double(sorted[sorted.count / 2]) / 1000
    let p99 = Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]) / 1000
    print(String(format: "%d %.1f %.1f %.0f", sorted.count, p50, p99, Double(sorted.count) / elapsed))
    if errors > 0 { print("transport-bench: \(errors) calls failed") }
    await connection.close()
} else if arguments.count == 3, arguments[1] == "auth", let rounds = Int(arguments[2]), rounds > 0 {
    try await AuthBench.run(rounds: rounds, logger: logger)
} else {
    fail("usage: transport-bench server PORT | transport-bench client PORT SIZE INFLIGHT SECONDS [METHOD] | transport-bench auth ROUNDS")
}
