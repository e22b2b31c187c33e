import Foundation
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

    /// A task that, in one cancellation scope, makes an answered call on `first`, then waits on
    /// `waitOn` (test/Wait) and then calls `thenOn` (test/Count): it returns the last two calls'
    /// errors and whether the first was answered.
    private func scopedCaller(onLoop: Bool, first: Connection, waitOn: Connection, thenOn: Connection) -> Task<(Error?, Error?, Bool), Never> {
        Task {
            await withTaskExecutorPreference(onLoop ? TransportLoop.executor : nil) {
                await Connection.withCallCancellation { () async -> (Error?, Error?, Bool) in
                    let before = (try? await first.call("test/Echo", bytes("a"))) == bytes("a")
                    var waiting: Error?, later: Error?
                    do { _ = try await waitOn.call("test/Wait", []) } catch { waiting = error }
                    do { _ = try await thenOn.call("test/Count", []) } catch { later = error }
                    return (waiting, later, before)
                }
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
        let caller = scopedCaller(onLoop: onLoop, first: connection, waitOn: connection, thenOn: connection)
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

    /// A scope records its call in flight and that call's connection in one step (an atomic
    /// word, the connection under a lock only when it changes): when the task's calls move to
    /// another connection, cancelling ends the call on that one, not on the first.
    @Test(arguments: [false, true])
    func cancellingAfterTheCallsMovedToAnotherConnectionEndsTheRightCall(onLoop: Bool) async throws {
        let first = Probe(), second = Probe()
        let (firstServer, firstPort) = try server(first)
        let (secondServer, secondPort) = try server(second)
        let a = Connection(host: "127.0.0.1", port: firstPort)
        let b = Connection(host: "127.0.0.1", port: secondPort)
        let caller = scopedCaller(onLoop: onLoop, first: a, waitOn: b, thenOn: a)
        #expect(await eventually { second.started.current == 1 })
        caller.cancel()
        let (waiting, later, before) = try await within(5, "the cancelled call's end") { await caller.value }
        #expect(before)
        #expect((waiting as? Status)?.code == .cancelled, "\(String(describing: waiting))")
        #expect((later as? Status)?.code == .cancelled, "\(String(describing: later))")
        #expect(await eventually { second.cancelled.current == 1 }, "CANCEL reached the second server's handler")
        #expect(first.counted.current == 0, "a call after the cancel was not sent")
        #expect(firstServer.stats.callsInFlight == 0 && first.started.current == 0)
        #expect(try await within(5, "a call on the first connection") { try await a.call("test/Echo", bytes("b")) } == bytes("b"))
        await a.close()
        await b.close()
        await firstServer.shutdown(timeout: .seconds(1))
        await secondServer.shutdown(timeout: .seconds(1))
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

    /// The scope's body runs on the caller's actor (the scope's closures capture its isolation):
    /// before, a body from an actor ran on Swift's global pool. An actor on a dispatch queue of
    /// its own, so that where the body runs can be seen.
    @Test func aScopesBodyRunsOnTheCallersActor() async throws {
        let (server, port) = try startServer()
        let connection = Connection(host: "127.0.0.1", port: port)
        let actor = QueueActor()
        let (before, after) = try await within(10, "calls from an actor") { await actor.callInScope(connection) }
        #expect(before, "the scope's body ran off the actor's queue")
        #expect(after, "after its call the scope's body was off the actor's queue")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }
}

/// An actor whose jobs run on a dispatch queue it can recognise.
private actor QueueActor {
    private final class QueueExecutor: SerialExecutor {
        static let key = DispatchSpecificKey<Bool>()
        let queue = DispatchQueue(label: "call-cancellation-test-actor")
        init() { queue.setSpecific(key: Self.key, value: true) }
        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            queue.async { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
        }
    }
    private let executor = QueueExecutor()
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    static var onQueue: Bool { DispatchQueue.getSpecific(key: QueueExecutor.key) == true }

    /// Whether a scope's body started on this actor's queue, and was there after its call.
    func callInScope(_ connection: Connection) async -> (Bool, Bool) {
        await Connection.withCallCancellation { () async -> (Bool, Bool) in
            let before = Self.onQueue
            _ = try? await connection.call("test/Echo", bytes("x"))
            return (before, Self.onQueue)
        }
    }
}
