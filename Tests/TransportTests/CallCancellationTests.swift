import LatticeTesting
import Testing
@testable import Transport
import Wire

/// `Connection.withCallCancellation`: one cancellation handler for a task's calls must cancel as
/// promptly as one per call, and must not cover calls of other tasks.
@Suite("Call cancellation scope", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct CallCancellationTests {
    private final class Probe: Sendable {
        let started = Counter()       // test/Wait calls the server began
        let cancelled = Counter()     // test/Wait calls the server saw cancelled
        let counted = Counter()       // test/Count calls that reached the server
    }

    private func server(_ probe: Probe) throws -> (Server, Int) {
        try startServer { server in
            server.unary("test/Wait") { _, _ in
                probe.started.increment()
                do { try await Task.sleep(for: .seconds(30)) } catch { probe.cancelled.increment(); throw error }
                return []
            }
            server.unary("test/Count") { _, _ in
                probe.counted.increment()
                return []
            }
        }
    }

    /// Cancelling a task in a scope ends its call in flight with CANCELLED, tells the server, frees
    /// the call's slot (one slot only here), and fails the scope's later calls unsent.
    @Test(arguments: [false, true])
    func cancellingTheTaskEndsItsCallInFlight(onLoop: Bool) async throws {
        let probe = Probe()
        let (server, port) = try server(probe)
        var config = TransportConfig()
        config.maxPendingCalls = 1
        let connection = Connection(host: "127.0.0.1", port: port, config: config)
        let caller = Task {
            await withTaskExecutorPreference(onLoop ? TransportLoop.executor : nil) {
                await Connection.withCallCancellation { () async -> (Error?, Error?, Bool) in
                    let before = (try? await connection.call("test/Echo", bytes("a"))) == bytes("a")
                    var waiting: Error?, later: Error?
                    do { _ = try await connection.call("test/Wait", []) } catch { waiting = error }
                    do { _ = try await connection.call("test/Count", []) } catch { later = error }
                    return (waiting, later, before)
                }
            }
        }
        #expect(await eventually { probe.started.current == 1 })
        caller.cancel()
        let (waiting, later, before) = try await within(5, "the cancelled call's end") { await caller.value }
        #expect(before, "a call in the scope before the cancel was answered")
        #expect((waiting as? Status)?.code == .cancelled, "\(String(describing: waiting))")
        #expect((later as? Status)?.code == .cancelled, "\(String(describing: later))")
        #expect(await eventually { probe.cancelled.current == 1 }, "CANCEL reached the handler")
        #expect(probe.counted.current == 0, "a call after the cancel was not sent")
        #expect(try await within(5, "a call in the freed slot") { try await connection.call("test/Echo", bytes("b")) } == bytes("b"))
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// A child task sees its parent's scope (task-locals are inherited) but is cancelled on its
    /// own (`cancelAll`, parent untouched): its call must still end at once.
    @Test func aChildTasksCallIsCancelledWithoutItsParent() async throws {
        let probe = Probe()
        let (server, port) = try server(probe)
        let connection = Connection(host: "127.0.0.1", port: port)
        let outcome = try await within(10, "the child's cancelled call") {
            await Connection.withCallCancellation {
                await withTaskGroup(of: Error?.self) { group -> Error? in
                    group.addTask {
                        do { _ = try await connection.call("test/Wait", []); return nil } catch { return error }
                    }
                    _ = await eventually { probe.started.current == 1 }
                    group.cancelAll()
                    return await group.next() ?? nil
                }
            }
        }
        #expect((outcome as? Status)?.code == .cancelled, "\(String(describing: outcome))")
        #expect(await eventually { probe.cancelled.current == 1 }, "CANCEL reached the handler")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }
}
