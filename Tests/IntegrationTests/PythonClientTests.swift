import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// The .proto files are the contract: a Python client generated from them with
    /// `protoc --python_out` calls Health on every running Swift service.
    @Suite struct PythonClientTests {
        static let repositoryRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

        @Test func pythonClientSeesEveryServiceServing() async throws {
            var running: [TestService] = []
            defer { for service in running { service.removeFiles() } }
            do {
                for service in ServiceName.allCases { running.append(try await LatticeTesting.start(service)) }
                let directory = LatticeTesting.temporaryDirectory("python-client")
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let (out, err) = ("\(directory)/out", "\(directory)/err")
                let script = "\(Self.repositoryRoot)/clients/python/lattice_health.py"
                let pid = try ChildProcess.spawn(
                    executable: "/usr/bin/env", arguments: ["python3", script] + running.map(\.address),
                    environment: ProcessInfo.processInfo.environment, stdoutPath: out, stderrPath: err)
                let end = await ChildProcess.waitForExit(pid, timeout: .seconds(120))
                let stdout = TextFile.read(out) ?? ""
                let stderr = TextFile.read(err) ?? ""
                #expect(end?.status == .exited(0), "stdout: \(stdout)\nstderr: \(stderr)")
                for service in running {
                    #expect(stdout.contains(service.address), "no line for \(service.address): \(stdout)")
                }

                // One stopped service turns the answer to failure.
                await running[0].stop()
                let failing = try ChildProcess.spawn(
                    executable: "/usr/bin/env", arguments: ["python3", script] + running.map(\.address),
                    environment: ProcessInfo.processInfo.environment, stdoutPath: out, stderrPath: err)
                let failed = await ChildProcess.waitForExit(failing, timeout: .seconds(60))
                #expect(failed?.status == .exited(1))
            } catch {
                for service in running { await service.stop() }
                throw error
            }
            for service in running { await service.stop() }
        }
    }
}
