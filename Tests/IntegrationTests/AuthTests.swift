@testable import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// Issue 12's authentication against real service processes (started as every test starts
    /// them: LatticeTesting provisions the cluster secret).
    @Suite(.timeLimit(.minutes(TestTime.minutes(1))))
    struct AuthTests {
        @Test func aCallWithoutTheHandshakeIsUnauthenticatedClosedAndNotRun() async throws {
            try await LatticeTesting.withService(.placement) { running in
                let port = running.port
                let observer = running.client()
                let before = try await observer.stats(.placement)
                let reply = try await blocking {
                    let socket = try RawSocket(port: port, authenticate: false)
                    socket.send(Envelope(callID: 1, method: "placement/Health", payload: HealthRequest().encode()))
                    return try socket.readUntilClosed()
                }
                #expect(reply.closed && !reply.timedOut)
                #expect(reply.envelopes.count == 1)
                #expect(reply.envelopes.first?.callID == 0)
                #expect(reply.envelopes.first?.status?.code == .unauthenticated)
                let after = try await observer.stats(.placement)
                #expect(after[extra: "auth_failures"] == 1)
                #expect(after.callsTotal == before.callsTotal + 1, "only the second Stats call ran")
                await observer.close()
            }
        }

        @Test func aWrongSecretAndAReplayedProofAreRefused() async throws {
            try await LatticeTesting.withService(.scheduler) { running in
                let port = running.port
                let wrong = try Credentials.cluster(secret: "this-is-not-the-cluster-secret")
                let refusals = try await blocking { () -> [Envelope] in
                    let bad = try RawSocket(port: port, authenticate: false)
                    try bad.handshake(credentials: wrong, replaying: HandshakeProof(keyID: "", mac: [UInt8](repeating: 0, count: 32)))
                    let first = try bad.readUntilClosed()
                    // A good handshake, recorded, then replayed on a new connection.
                    let good = try RawSocket(port: port, authenticate: false)
                    let recorded = try #require(try good.handshake())
                    let replay = try RawSocket(port: port, authenticate: false)
                    try replay.handshake(replaying: recorded)
                    let second = try replay.readUntilClosed()
                    return first.envelopes + second.envelopes
                }
                #expect(refusals.map(\.status?.code) == [.unauthenticated, .unauthenticated])
                // A typed client with the wrong secret gets UNAUTHENTICATED, not UNAVAILABLE.
                var config = TransportConfig()
                config.credentials = wrong
                let client = ServiceClient(host: "127.0.0.1", port: port, config: config, reconnect: .never)
                await #expect(throws: Status(.unauthenticated, "wrong cluster secret")) {
                    _ = try await client.health(.scheduler)
                }
                await client.close()
            }
        }

        @Test func apiKeysCallClientMethodsOnlyAndAreRevokedWithoutARestart() async throws {
            let directory = LatticeTesting.temporaryDirectory("keys")
            let keys = "\(directory)/api.keys"
            let token = "tester.0123456789abcdef0123456789"
            try "\(token)\n".write(toFile: keys, atomically: true, encoding: .utf8)
            try await LatticeTesting.withService(.scheduler, environment: ["LATTICE_API_KEYS_FILE": keys]) { running in
                var config = TransportConfig()
                config.credentials = try Credentials.apiKey(token)
                let client = ServiceClient(host: "127.0.0.1", port: running.port, config: config, reconnect: .never)
                #expect(try await client.health(.scheduler).status == .serving)
                await #expect(throws: Status.self) {
                    _ = try await client.call(Methods.Scheduler.registerWorker.name, RegisterWorkerRequest(), as: RegisterWorkerResponse.self)
                }
                do {
                    _ = try await client.call(Methods.Scheduler.registerWorker.name, RegisterWorkerRequest(), as: RegisterWorkerResponse.self)
                } catch let status as Status {
                    #expect(status.code == .permissionDenied, "\(status)")
                }
                try "# revoked\n".write(toFile: keys, atomically: true, encoding: .utf8)
                do {
                    _ = try await client.health(.scheduler)
                    Issue.record("a revoked key still works")
                } catch let status as Status {
                    #expect(status.code == .unauthenticated && status.message.contains("revoked"), "\(status)")
                }
                await client.close()
                let stats = try await running.client().stats(.scheduler)
                #expect(stats[extra: "calls_denied"] == 2)
            }
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// The caller's environment wins over the credentials provisioned for this process: on the
        /// process's first start, the test above once got the provisioned key file, not its own.
        @Test func aLaunchersOwnKeyFileWinsOverTheProvisionedOne() {
            let provisioned = ["LATTICE_CLUSTER_SECRET_FILE": "/p/cluster.secret", "LATTICE_API_KEYS_FILE": "/p/api.keys"]
            var provisions = 0
            let first = RunningService.launchEnvironment(["LATTICE_API_KEYS_FILE": "/t/api.keys"], inherited: ["HOME": "/h"]) {
                provisions += 1
                return provisioned
            }
            #expect(first == ["HOME": "/h", "LATTICE_CLUSTER_SECRET_FILE": "/p/cluster.secret", "LATTICE_API_KEYS_FILE": "/t/api.keys"])
            // A secret given by the caller or inherited is kept, and nothing is provisioned.
            let given = RunningService.launchEnvironment(["LATTICE_CLUSTER_SECRET_FILE": "/t/missing"], inherited: [:]) {
                provisions += 1
                return provisioned
            }
            #expect(given == ["LATTICE_CLUSTER_SECRET_FILE": "/t/missing"])
            let inherited = RunningService.launchEnvironment(["LATTICE_API_KEYS_FILE": "/t/api.keys"], inherited: provisioned) {
                provisions += 1
                return [:]
            }
            #expect(inherited == ["LATTICE_CLUSTER_SECRET_FILE": "/p/cluster.secret", "LATTICE_API_KEYS_FILE": "/t/api.keys"])
            #expect(provisions == 1)
        }

        /// Without --listen or LATTICE_LISTEN a service binds loopback, never every interface.
        @Test func aServiceBindsLoopbackUnlessToldOtherwise() async throws {
            let binaries = try LatticeTesting.binaries()
            let directory = LatticeTesting.temporaryDirectory("loopback")
            let secret = "\(directory)/cluster.secret", printed = "\(directory)/stdout"
            try String(repeating: "5e", count: 32).write(toFile: secret, atomically: true, encoding: .utf8)
            FileManager.default.createFile(atPath: printed, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "\(binaries.directory)/\(ServiceName.placement.executableName)")
            process.arguments = []
            process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LATTICE_") }
                .merging(["LATTICE_CLUSTER_SECRET_FILE": secret]) { _, given in given }
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: printed))
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer {
                process.terminate()
                process.waitUntilExit()
                try? FileManager.default.removeItem(atPath: directory)
            }
            let deadline = ContinuousClock.now + TestTime.scaled(.seconds(30))
            var line = ""
            while !line.hasPrefix("listening "), process.isRunning, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                line = TextFile.read(printed)?.split(separator: "\n").first.map(String.init) ?? ""
            }
            #expect(line.hasPrefix("listening 127.0.0.1:"), "printed: \(line)")
        }

        @Test func aServiceWithoutAReadableSecretRefusesToStart() async throws {
            let binaries = try LatticeTesting.binaries()
            let directory = LatticeTesting.temporaryDirectory("nosecret")
            let process = try RunningService.spawn(
                .placement, role: "placement", binaries: binaries, arguments: [],
                environment: ["LATTICE_CLUSTER_SECRET_FILE": "\(directory)/missing"], logDirectory: directory, host: "127.0.0.1")
            let end = await ChildProcess.waitForExit(process.pid, timeout: .seconds(10))
            let log = ChildProcess.tail(process.logPath)
            #expect(end?.status == .exited(64), "\(log)")
            #expect(log.contains("LATTICE_CLUSTER_SECRET_FILE: cannot read \(directory)/missing"), "\(log)")
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}
