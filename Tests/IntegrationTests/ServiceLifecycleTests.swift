import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// Each service executable, started for real on a free loopback port.
    @Suite(.timeLimit(.minutes(TestTime.minutes(1))))
    struct ServiceLifecycleTests {
        @Test(arguments: ServiceName.allCases)
        func everyServiceAnswersHealthAndStats(_ service: ServiceName) async throws {
            try await LatticeTesting.withService(service) { running in
                #expect(running.port > 0)
                let client = running.client()
                let health = try await client.health(service)
                #expect(health.status == .serving)
                #expect(health.service == service.displayName)
                #expect(health.version == "0.1.0")
                #expect(!health.instanceID.isEmpty)

                for _ in 0..<5 { _ = try await client.health(service) }
                let stats = try await client.stats(service)
                await client.close()
                #expect(stats.service == service.displayName)
                // LatticeTesting's readiness probes, our 6 Health calls and this Stats call itself.
                #expect(stats.callsTotal >= 7)
                #expect(stats.callsInFlight >= 1)  // this Stats call
                #expect(stats.connectionsOpen >= 1)
                #expect(stats.bytesIn > 0 && stats.bytesOut > 0)
                #expect(stats[extra: "protocol_errors"] == 0)
            }
        }

        @Test func identifyFindsTheServiceBehindAnAddress() async throws {
            try await LatticeTesting.withService(.circuit) { running in
                let (name, health) = try await running.client().identify()
                #expect(name == .circuit)
                #expect(health.status == .serving)
            }
        }

        @Test func sigtermDrainsTheCallInFlightThenExitsZero() async throws {
            // Each Stats answer waits 1.5 s, so one is surely in flight when SIGTERM lands.
            let running = try await LatticeTesting.start(.placement, environment: ["LATTICE_DEBUG_STATS_DELAY": "1.5"])
            let client = running.client()
            let slowCall = Task { try await client.stats(.placement, deadline: TestTime.scaled(.seconds(10))) }
            try await Task.sleep(for: .milliseconds(400))
            let signalled = ContinuousClock.now
            let (status, killed) = await running.stop(timeout: .seconds(10))
            let stopTook = ContinuousClock.now - signalled

            let answer = try await slowCall.value
            await client.close()
            #expect(answer.service == "placement")
            #expect(answer.callsInFlight >= 1)
            #expect(status == .exited(0))
            #expect(!killed)
            #expect(stopTook >= .milliseconds(800), "exited before the in-flight call could finish")
            #expect(running.log.contains("draining"))
            running.removeFiles()
        }

        @Test func sigintAlsoExitsZero() async throws {
            let running = try await LatticeTesting.start(.worker)
            kill(running.pid, SIGINT)
            let end = await ChildProcess.waitForExit(running.pid, timeout: .seconds(10))
            #expect(end?.status == .exited(0))
            #expect(running.log.contains("SIGINT"))
            running.removeFiles()
        }

        @Test func jsonLogsAreOneObjectPerLine() async throws {
            try await LatticeTesting.withService(.scheduler, environment: ["LATTICE_LOG_FORMAT": "json", "LATTICE_LOG_LEVEL": "debug"]) { running in
                let lines = running.log.split(separator: "\n")
                #expect(!lines.isEmpty)
                for line in lines {
                    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    #expect(object?["level"] != nil && object?["msg"] != nil && object?["ts"] != nil, "not a log object: \(line)")
                }
                #expect(lines.contains { $0.contains("\"msg\":\"serving\"") })
            }
        }

        @Test func badFlagsAndEnvironmentExitWithAClearMessage() async throws {
            let binaries = try LatticeTesting.binaries()
            let cases: [(arguments: [String], environment: [String: String], expected: String)] = [
                (["--listen", "localhost"], [:], "missing ':PORT'"),
                (["--listen", "127.0.0.1:70000"], [:], "is not a number in 0...65535"),
                (["--max-frame-bytes", "-5"], [:], "--max-frame-bytes"),
                ([], ["LATTICE_LOG_FORMAT": "xml"], "LATTICE_LOG_FORMAT: unknown log format 'xml'; use text or json"),
                (["--scheduler", "nowhere"], [:], "--scheduler"),
                (["--loops", "0"], [:], "--loops: '0' is not a number of event loops from 1 to 64"),
            ]
            for item in cases {
                let directory = LatticeTesting.temporaryDirectory("badflags")
                let process = try RunningService.spawn(
                    .worker, role: "worker", binaries: binaries, arguments: item.arguments,
                    environment: item.environment, logDirectory: directory, host: "127.0.0.1")
                let end = await ChildProcess.waitForExit(process.pid, timeout: .seconds(10))
                let log = ChildProcess.tail(process.logPath)
                #expect(end?.status == .exited(64), "\(item.arguments) \(item.environment): \(log)")
                #expect(log.contains(item.expected), "\(item.arguments): \(log)")
                try? FileManager.default.removeItem(atPath: directory)
            }
        }

        /// `--loops 2`: two event loops share the port (SO_REUSEPORT); the kernel spreads
        /// connections over both, each serves its own, Stats counts them per loop and in total,
        /// and SIGTERM still drains and exits 0.
        @Test func aServiceOnTwoLoopsServesConnectionsOnBoth() async throws {
            let running = try await LatticeTesting.start(.circuit, arguments: ["--loops", "2"])
            var clients: [ServiceClient] = []
            var perLoop: [Double] = [0, 0]
            // New connections until both loops hold one (all of 32 on one of two: a chance of 2^-31).
            while clients.count < 32 && perLoop.contains(0) {
                let client = running.client()
                clients.append(client)
                _ = try await client.health(.circuit)
                let stats = try await client.stats(.circuit)
                perLoop = [stats[extra: "loop_0_connections_open"] ?? -1, stats[extra: "loop_1_connections_open"] ?? -1]
            }
            #expect(perLoop[0] > 0 && perLoop[1] > 0, "connections per loop: \(perLoop) of \(clients.count)")
            let stats = try await clients[0].stats(.circuit)
            #expect(Double(stats.connectionsOpen) == (stats[extra: "loop_0_connections_open"] ?? 0) + (stats[extra: "loop_1_connections_open"] ?? 0))
            #expect(Double(stats.callsTotal) == (stats[extra: "loop_0_calls_total"] ?? 0) + (stats[extra: "loop_1_calls_total"] ?? 0))
            for client in clients { await client.close() }
            let (status, killed) = await running.stop(timeout: .seconds(10))
            #expect(status == .exited(0) && !killed)
            running.removeFiles()
        }

        @Test func addressInUseIsAClearError() async throws {
            try await LatticeTesting.withService(.placement) { running in
                let directory = LatticeTesting.temporaryDirectory("inuse")
                let binaries = try LatticeTesting.binaries()
                let pid = try ChildProcess.spawn(
                    executable: try binaries.path(for: .placement), arguments: ["--listen", running.address],
                    environment: ProcessInfo.processInfo.environment,
                    stdoutPath: "\(directory)/out", stderrPath: "\(directory)/log")
                let end = await ChildProcess.waitForExit(pid, timeout: .seconds(10))
                #expect(end?.status != nil && end?.status != .exited(0))
                #expect(ChildProcess.tail("\(directory)/log").lowercased().contains("in use"))
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }
}
