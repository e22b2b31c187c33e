import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// `lattice up / status / down / health` end to end, as a user runs them, in a temporary state dir.
    @Suite(.timeLimit(.minutes(TestTime.minutes(1))))
    struct LocalStackTests {
        struct StatusReport: Decodable {
            var stateDir: String
            var processes: [LocalStack.Member]
        }

        @Test func upStatusDown() async throws {
            let directory = LatticeTesting.temporaryDirectory("stack")
            let state = "\(directory)/state"
            defer { try? FileManager.default.removeItem(atPath: directory) }

            let up = try await CLIRun.lattice(["up", "--workers", "2", "--state-dir", state], in: directory)
            #expect(up.status == .exited(0), "\(up.stderr)")
            #expect(up.stdout.contains("worker-2"))

            let status = try await CLIRun.lattice(["status", "--json", "--state-dir", state], in: directory)
            #expect(status.status == .exited(0), "\(status.stderr)")
            let report = try JSONDecoder().decode(StatusReport.self, from: Data(status.stdout.utf8))
            #expect(report.processes.map(\.role) == ["placement", "scheduler", "circuit", "worker-1", "worker-2"])
            #expect(report.processes.map(\.service) == ["placement", "scheduler", "circuit-optimizer", "worker", "worker"])
            #expect(report.processes.allSatisfy { $0.health == "SERVING" && $0.running && $0.pid > 0 })
            #expect(Set(report.processes.map(\.address)).count == 5)

            // Each recorded address really serves that service, and `lattice health` agrees.
            for process in report.processes {
                let health = try await CLIRun.lattice(["health", process.address, "--state-dir", state], in: directory)
                #expect(health.status == .exited(0), "\(process.role): \(health.stderr)")
                #expect(health.stdout.contains("\(process.service) at \(process.address): SERVING"))
            }
            // Workers were told where the scheduler is.
            let scheduler = try #require(report.processes.first { $0.role == "scheduler" })
            let workerLog = try String(contentsOfFile: "\(state)/worker-1.log", encoding: .utf8)
            #expect(workerLog.contains(scheduler.address))

            // A second `up` on a live stack refuses instead of starting another.
            let again = try await CLIRun.lattice(["up", "--state-dir", state], in: directory)
            #expect(again.status == .exited(1))
            #expect(again.stderr.contains("lattice down"))

            let down = try await CLIRun.lattice(["down", "--state-dir", state], in: directory)
            #expect(down.status == .exited(0), "\(down.stderr)")
            #expect(down.stdout.split(separator: "\n").count == 5 && !down.stdout.contains("killed"), "\(down.stdout)")
            for process in report.processes {
                #expect(!ChildProcess.isRunning(process.pid, executableName: "\(process.service)-service"), "\(process.role) still runs")
            }
            #expect(!FileManager.default.fileExists(atPath: "\(state)/state.json"))
            #expect(FileManager.default.fileExists(atPath: "\(state)/placement.log"))

            let after = try await CLIRun.lattice(["status", "--json", "--state-dir", state], in: directory)
            #expect(after.status == .exited(1))
            #expect(try JSONDecoder().decode(StatusReport.self, from: Data(after.stdout.utf8)).processes.isEmpty)
        }

        /// A Helix cluster file as is: one emulated worker per node, named after it, of its GPU
        /// type; the shipped profiles are found although the working directory is elsewhere.
        @Test func upFromAHelixClusterFile() async throws {
            let directory = LatticeTesting.temporaryDirectory("cluster")
            let state = "\(directory)/state"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let types = ["A100", "L4", "T4x2"]
            var ini = "[NodeNames]\ntotal_compute_nodes=3\n\n[SourceNode]\nconnected_nodes=[0, 1, 2]\n\n[SinkNode]\nconnected_nodes=[0, 1, 2]\n\n"
            for (i, type) in types.enumerated() {
                let others = (0..<3).filter { $0 != i }.map(String.init).joined(separator: ", ")
                ini += "[ComputeNode-\(i)]\ntype=\(type)\nconnected_nodes=['source', \(others), 'sink']\n\n"
                ini += "[Link-source-\(i)]\nbandwidth=1000 * mbps\nlatency=1 * MilliSec\n\n[Link-\(i)-sink]\nbandwidth=1000 * mbps\nlatency=1 * MilliSec\n\n"
            }
            for (a, b) in [(0, 1), (0, 2), (1, 2)] { ini += "[Link-\(a)-\(b)]\nbandwidth=1000 * mbps\nlatency=1 * MilliSec\n\n" }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try ini.write(toFile: "\(directory)/tiny3.ini", atomically: true, encoding: .utf8)

            // The workers emulate the file's links, read from the file itself as the scheduler reads them.
            let up = try await CLIRun.lattice(["up", "--cluster", "\(directory)/tiny3.ini", "--routing", "swarm", "--emulate-links", "--state-dir", state], in: directory)
            #expect(up.status == .exited(0), "\(up.stderr)")
            let schedulerLog = (try? String(contentsOfFile: "\(state)/scheduler.log", encoding: .utf8)) ?? ""
            #expect(schedulerLog.contains("routing=swarm") && schedulerLog.contains("name=llama2-70b"), "\(schedulerLog.prefix(2000))")
            // `lattice status` shows the links the scheduler plans with: the file's, as declared.
            let status = try await CLIRun.lattice(["status", "--state-dir", state], in: directory)
            #expect(status.stdout.contains("node-0 - node-1  1000.0 MB/s  1.000 ms  declared"), "\(status.stdout)")
            for (i, type) in types.enumerated() {
                let log = (try? String(contentsOfFile: "\(state)/worker-\(i + 1).log", encoding: .utf8)) ?? ""
                #expect(log.contains("worker=node-\(i)"), "worker-\(i + 1): \(log.prefix(1500))")
                #expect(schedulerLog.contains("worker registered") && schedulerLog.contains("\"node-\(i)\"") || schedulerLog.contains("worker=node-\(i)"), "\(type)")
            }
            let down = try await CLIRun.lattice(["down", "--state-dir", state], in: directory)
            #expect(down.status == .exited(0), "\(down.stderr)")
            // A node type that is neither a profiled GPU nor CPU-<threads> is a clear error.
            try ini.replacingOccurrences(of: "type=L4", with: "type=H100").write(toFile: "\(directory)/bad.ini", atomically: true, encoding: .utf8)
            let bad = try await CLIRun.lattice(["up", "--cluster", "\(directory)/bad.ini", "--state-dir", state], in: directory)
            #expect(bad.status != .exited(0))
            #expect(bad.stderr.contains("ComputeNode-1") && bad.stderr.contains("H100"), "\(bad.stderr)")
        }

        /// `lattice load` (scripts/bench-serving's load) keeps generations in flight over one
        /// connection and reports the window's decode tokens and latencies, with no failures.
        @Test func loadKeepsGenerationsInFlightAndReportsTheWindow() async throws {
            let directory = LatticeTesting.temporaryDirectory("load")
            let state = "\(directory)/state"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let refused = try await CLIRun.lattice(["up", "--workers", "2", "--queue-limit", "0", "--state-dir", state], in: directory)
            #expect(refused.status != .exited(0) && refused.stderr.contains("--queue-limit"), "\(refused.stderr)")
            let up = try await CLIRun.lattice(["up", "--workers", "2", "--queue-limit", "8", "--state-dir", state], in: directory)
            #expect(up.status == .exited(0), "\(up.stderr)")
            let load = try await CLIRun.lattice(["load", "--state-dir", state, "--concurrency", "4", "--seconds", "\(TestTime.seconds(3))", "--warmup", "\(TestTime.seconds(1))",
                                                 "--max-prompt", "6", "--max-output", "3", "--vocabulary", "100", "--name", "probe"], in: directory)
            _ = try await CLIRun.lattice(["down", "--state-dir", state], in: directory)
            #expect(load.status == .exited(0), "\(load.stderr)")
            struct Worker: Decodable { var name: String; var layers: String; var utilisation: Double; var mean_batch_tokens: Double }
            struct Report: Decodable {
                var name: String; var decode_tokens_per_s: Double; var failures: Int; var finished: Int; var decode_p50: Double; var prompt_p50: Double
                var workers: [Worker]
                var queued_at_close: Int; var active_at_close: Int
            }
            let report = try JSONDecoder().decode(Report.self, from: Data(load.stdout.utf8))
            #expect(report.name == "probe" && report.failures == 0, "\(load.stdout)")
            // Each worker's part of the window, from its worker/Stats: those the plan gives layers computed, in batches.
            #expect(report.workers.map(\.name) == ["worker-1", "worker-2"], "\(load.stdout)")
            let serving = report.workers.filter { $0.layers != "[0,0)" }
            #expect(!serving.isEmpty && serving.allSatisfy { $0.utilisation > 0 && $0.utilisation <= 1.05 && $0.mean_batch_tokens >= 1 }, "\(load.stdout)")
            #expect(report.decode_tokens_per_s > 0 && report.finished > 0, "\(load.stdout)")
            #expect(report.decode_p50 > 0 && report.prompt_p50 > 0, "\(load.stdout)")
            // The scheduler's status at the close (-1: not read): the tiny model's KV takes all 4 at once.
            #expect(report.queued_at_close == 0 && (0...4).contains(report.active_at_close), "\(load.stdout)")
        }

        @Test func staleStateFromKilledProcessesIsReportedAndReplaced() async throws {
            let directory = LatticeTesting.temporaryDirectory("stale")
            let state = "\(directory)/state"
            defer { try? FileManager.default.removeItem(atPath: directory) }

            let up = try await CLIRun.lattice(["up", "--workers", "0", "--state-dir", state], in: directory)
            #expect(up.status == .exited(0), "\(up.stderr)")
            let first = try #require(try await LocalStack(stateDirectory: state).status())
            for member in first where member.pid > 0 { kill(member.pid, SIGKILL) }
            for member in first { _ = await ChildProcess.waitForExit(member.pid, timeout: .seconds(5)) }

            let status = try await CLIRun.lattice(["status", "--json", "--state-dir", state], in: directory)
            #expect(status.status == .exited(1))
            let report = try JSONDecoder().decode(StatusReport.self, from: Data(status.stdout.utf8))
            #expect(report.processes.count == 3)
            #expect(report.processes.allSatisfy { !$0.running && $0.health == "NOT RUNNING" })

            let again = try await CLIRun.lattice(["up", "--workers", "1", "--state-dir", state], in: directory)
            #expect(again.status == .exited(0), "\(again.stderr)")
            #expect(again.stderr.contains("stale"))
            let down = try await CLIRun.lattice(["down", "--state-dir", state], in: directory)
            #expect(down.status == .exited(0))
            #expect(down.stdout.contains("worker-1"))

            // `down` with nothing recorded is not an error.
            let idle = try await CLIRun.lattice(["down", "--state-dir", state], in: directory)
            #expect(idle.status == .exited(0))
            #expect(idle.stdout.contains("nothing to stop"))
        }

        @Test func healthExitCodesSayWhatIsWrong() async throws {
            let directory = LatticeTesting.temporaryDirectory("health")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // Port 1 (tcpmux): nothing listens there on a developer or CI machine.
            let refused = try await CLIRun.lattice(["health", "127.0.0.1:1"], in: directory)
            #expect(refused.status == .exited(2))
            #expect(refused.stderr.contains("cannot reach 127.0.0.1:1"))

            let malformed = try await CLIRun.lattice(["health", "not-an-address"], in: directory)
            #expect(malformed.status == .exited(64))

            // A listener that accepts but never answers: the deadline applies.
            let silent = try await blocking { () -> Int32 in
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
                _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                listen(fd, 8)
                return fd
            }
            defer { close(silent) }
            var bound = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(silent, $0, &length) } }
            let port = Int(UInt16(bigEndian: bound.sin_port))
            let timeout = try await CLIRun.lattice(["health", "127.0.0.1:\(port)", "--service", "placement", "--timeout", "0.5"], in: directory)
            #expect(timeout.status == .exited(2))
            #expect(timeout.stderr.contains("did not answer within 0.5s"), "\(timeout.stderr)")

            try await LatticeTesting.withService(.worker) { running in
                let wrong = try await CLIRun.lattice(["health", running.address, "--service", "placement"], in: directory)
                #expect(wrong.status == .exited(2))
                #expect(wrong.stderr.contains("UNIMPLEMENTED"))
            }
        }

        @Test func corruptStateAndMissingExecutablesAreClearErrors() async throws {
            let directory = LatticeTesting.temporaryDirectory("corrupt")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let state = "\(directory)/state"
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            try Data("{not json".utf8).write(to: URL(fileURLWithPath: "\(state)/state.json"))
            let status = try await CLIRun.lattice(["status", "--state-dir", state], in: directory)
            #expect(status.status == .exited(1))
            #expect(status.stderr.contains("is not a Lattice state file"), "\(status.stderr)")
            let up = try await CLIRun.lattice(["up", "--state-dir", state], in: directory)
            #expect(up.status == .exited(1))
            #expect(up.stderr.contains("is not a Lattice state file"))

            let empty = "\(directory)/bin"
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            let missing = try await CLIRun.lattice(["up", "--state-dir", "\(directory)/other"], in: directory, environment: ["LATTICE_BIN_DIR": empty])
            #expect(missing.status == .exited(1))
            #expect(missing.stderr.contains("has no placement-service"), "\(missing.stderr)")
        }
    }
}
