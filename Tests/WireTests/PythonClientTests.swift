import Foundation
import Testing

/// clients/python/lattice_health.py on its failure paths (the lead's integration tests run it
/// against live services). Started with whatever `python3` is on PATH, so the re-exec into a
/// Python that has protobuf is exercised too.
@Suite(.enabled(if: toolAvailable("protoc") && toolAvailable("python3"), "protoc or python3 is not installed"))
struct PythonClientTests {
    @Test func unreachableAndMalformedAddressesFail() throws {
        let run = try runProcess("python3", ["clients/python/lattice_health.py", "127.0.0.1:1", "nonsense", "db@127.0.0.1:2"])
        #expect(run.status == 1, "stdout: \(run.stdout) stderr: \(run.stderr)")
        #expect(run.stderr.contains("127.0.0.1:1: cannot connect"))
        #expect(run.stderr.contains("'nonsense' is not HOST:PORT"))
        #expect(run.stderr.contains("unknown service 'db'"))
    }

    @Test func noArgumentsPrintsUsage() throws {
        let run = try runProcess("python3", ["clients/python/lattice_health.py"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("HOST:PORT"))
    }
}
