import Glibc
import LatticeTesting
import Testing
@testable import Transport
import Wire

/// A server on several event loops (`TransportConfig.serverLoops`): each loop listens on the
/// port with SO_REUSEPORT and the kernel spreads connections over them.
@Suite("Server loops (SO_REUSEPORT)", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct ServerLoopsTests {
    /// A server with `loops` loops whose `test/Loop` answers the index of the loop it ran on
    /// (non-blocking: its Task runs on the loop of the connection's core).
    private func startLoopsServer(_ loops: Int) throws -> (Server, Int) {
        var config = TransportConfig()
        config.serverLoops = loops
        return try startServer(config: config) { server in
            let loops = server.cores.map(\.loop)
            server.unary("test/Loop", nonBlocking: true) { _, _ in
                bytes("\(loops.firstIndex(where: { $0.inLoopThread }) ?? -1)")
            }
        }
    }

    @Test func twoLoopsBothAcceptServeCallsAndStopAtShutdown() async throws {
        let (server, port) = try startLoopsServer(2)
        #expect(server.cores.count == 2)
        #expect(server.cores[0].loop === EventLoop.shared && server.cores[1].loop !== EventLoop.shared)

        // New connections until both loops have one (the kernel hashes each connection to a
        // listener: 64 connections all on one of two listeners has a chance of 2^-63).
        var connections: [Connection] = []
        var connectionsByLoop = [0, 0]
        while connections.count < 64 && connectionsByLoop.contains(0) {
            let connection = Connection(host: "127.0.0.1", port: port)
            connections.append(connection)
            let answer = try await within(10, "a call on connection \(connections.count)") { try await connection.call("test/Loop", []) }
            let loop = Int(text(answer)) ?? -1
            try #require((0...1).contains(loop), "the handler ran on no loop of the server: '\(text(answer))'")
            connectionsByLoop[loop] += 1
        }
        #expect(connectionsByLoop[0] > 0 && connectionsByLoop[1] > 0, "connections per loop: \(connectionsByLoop)")

        // Pipelined calls on every connection are answered, each on its connection's loop.
        let opened = connections
        let failures = try await within(20, "pipelined calls on every connection") {
            await withTaskGroup(of: Int.self) { group in
                for connection in opened {
                    for i in 0..<20 {
                        group.addTask {
                            let answer = try? await connection.call("test/Echo", bytes("#\(i)"))
                            return answer.map(text) == "#\(i)" ? 0 : 1
                        }
                    }
                }
                return await group.reduce(0, +)
            }
        }
        #expect(failures == 0)

        // Stats: each loop counts its own connections and calls; `stats` is their sum.
        let perLoop = server.statsPerLoop
        let calls = UInt64(connections.count * 21)
        #expect(perLoop.count == 2)
        #expect(perLoop.map(\.connectionsOpen) == connectionsByLoop.map(UInt64.init))
        #expect(perLoop.allSatisfy { $0.callsTotal > 0 })
        #expect(server.stats.callsTotal == calls && perLoop[0].callsTotal + perLoop[1].callsTotal == calls)
        #expect(server.stats.connectionsOpen == UInt64(connections.count))

        for connection in connections { await connection.close() }
        #expect(await eventually { server.stats.connectionsOpen == 0 })
        try await within(10, "shutdown") { await server.shutdown(timeout: .seconds(1)) }
        #expect(server.cores[1].loop.isStopped, "the second loop's thread ended")
        #expect(server.stats.callsTotal == calls, "the totals survive the loops")

        // The port is free: a server without SO_REUSEPORT can bind it.
        let (again, againPort) = try startServer(port: port)
        #expect(againPort == port)
        await again.shutdown(timeout: .seconds(1))
    }

    /// Work for a stopped loop (a Task that still prefers it) runs on the shared loop instead
    /// of being lost; stopping twice is harmless.
    @Test func aStoppedLoopHandsLateWorkToTheSharedLoop() async throws {
        let loop = EventLoop(name: "lattice-uv-loop-test")
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in loop.stop { done.resume() } }
        #expect(loop.isStopped)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in loop.stop { done.resume() } }
        let ranOnShared = try await within(5, "a task on a stopped loop") {
            await Task(executorPreference: loop) { EventLoop.shared.inLoopThread }.value
        }
        #expect(ranOnShared)
    }

    /// When one loop cannot bind, start throws and the loops that did bind stop listening.
    @Test func aPortHeldWithoutReusePortFailsTheStartOfEveryLoop() async throws {
        let (holder, port) = try startServer()   // one loop: no SO_REUSEPORT
        var config = TransportConfig()
        config.serverLoops = 2
        let server = Server(config: config, logger: quietLogger)
        #expect(throws: Status.self) { try server.start(host: "127.0.0.1", port: port) }
        await server.shutdown(timeout: .seconds(1))
        #expect(server.cores[1].loop.isStopped)
        await holder.shutdown(timeout: .seconds(1))
    }
}
