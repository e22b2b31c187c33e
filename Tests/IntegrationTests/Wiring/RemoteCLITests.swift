import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// `lattice plan|optimize --server` prints what the in-process commands print.
    @Suite(.timeLimit(.minutes(TestTime.minutes(2))))
    struct RemoteCLITests {
        func json(_ run: CLIRun) throws -> [String: Any] {
            #expect(run.status == .exited(0), "\(run.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        }

        @Test func planWithServerHasTheInProcessJSONShape() async throws {
            let cluster = "\(WiringFixtures.dataDirectory)/helix/clusters/single24.ini"
            let directory = LatticeTesting.temporaryDirectory("cli-plan")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // A baseline is returned as built whatever the objective.
            let arguments = ["plan", cluster, "--model", "llama2-70b", "--method", "petals", "--objective", "flow", "--budget", "5", "--json"]
            let local = try json(try await CLIRun.lattice(arguments + ["--data", WiringFixtures.dataDirectory], in: directory))
            try await LatticeTesting.withService(.placement, environment: WiringFixtures.environment) { service in
                let remote = try json(try await CLIRun.lattice(arguments + ["--server", service.address], in: directory, environment: WiringFixtures.environment))
                #expect(Set(remote.keys) == Set(local.keys))
                let objective = try #require(remote["objective_tokens_per_s"] as? Double)
                #expect(abs(objective - (try #require(local["objective_tokens_per_s"] as? Double))) < 1e-6)
                let placement = try #require(remote["placement"] as? [[String: Int]])
                #expect(placement == (local["placement"] as? [[String: Int]]))
            }
        }

        /// placement/Plan maximises the same default serving objective as `lattice plan`: for the
        /// same cluster, method, budget and seed both give the same plan. (Six A100s and two T4s
        /// hold exactly 80 layers, so the search settles long before the budget on any machine.)
        /// The simulated ranking is off on both sides: under a time budget the runs it finishes
        /// depend on the machine (LivePlanTests compares ranked plans, work-bounded).
        @Test func planWithServerUsesTheDefaultServingObjective() async throws {
            let directory = LatticeTesting.temporaryDirectory("cli-plan-serving")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cluster = try tight8(in: directory)
            let arguments = ["plan", cluster, "--model", "llama2-70b", "--method", "auto", "--budget", "4", "--seed", "3", "--json"]
            let local = try json(try await CLIRun.lattice(arguments + ["--data", WiringFixtures.dataDirectory, "--rank-candidates", "0"], in: directory))
            #expect(local["objective"] as? String == "serving")
            try await LatticeTesting.withService(.placement, arguments: ["--rank-candidates", "0"], environment: WiringFixtures.environment) { service in
                let remote = try json(try await CLIRun.lattice(arguments + ["--server", service.address], in: directory, environment: WiringFixtures.environment))
                #expect(remote["objective"] as? String == "serving")
                let placement = try #require(remote["placement"] as? [[String: Int]])
                #expect(placement.count == 8)
                #expect(placement == (local["placement"] as? [[String: Int]]))
            }
        }

        /// Six A100s and two T4s on a full mesh, written as a cluster file in `directory`.
        func tight8(in directory: String) throws -> String {
            let nodes = (0..<6).map { "{\"name\": \"a\($0)\", \"type\": \"A100\"}" } + (0..<2).map { "{\"name\": \"t\($0)\", \"type\": \"T4\"}" }
            let cluster = "\(directory)/tight8.json"
            try "{\"name\": \"tight8\", \"nodes\": [\(nodes.joined(separator: ", "))], \"full_mesh\": {\"bandwidth_bytes_per_s\": 1e9, \"latency_s\": 0.001}}"
                .write(toFile: cluster, atomically: true, encoding: .utf8)
            return cluster
        }

        /// A solve stopped before any bound was set (found under AddressSanitizer: a slow judge
        /// phase ran out the budget) prints its plan with a null bound, not a JSON error, locally and remotely.
        @Test func planStoppedBeforeABoundPrintsANullBound() async throws {
            let directory = LatticeTesting.temporaryDirectory("cli-plan-no-bound")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let arguments = ["plan", try tight8(in: directory), "--model", "llama2-70b", "--method", "auto", "--budget", "0.001", "--seed", "3", "--json"]
            let local = try json(try await CLIRun.lattice(arguments + ["--data", WiringFixtures.dataDirectory], in: directory))
            #expect(local["upper_bound_tokens_per_s"] is NSNull)
            #expect(try #require(local["objective_tokens_per_s"] as? Double) > 0)
            try await LatticeTesting.withService(.placement, environment: WiringFixtures.environment) { service in
                let remote = try json(try await CLIRun.lattice(arguments + ["--server", service.address], in: directory, environment: WiringFixtures.environment))
                #expect(try #require(remote["objective_tokens_per_s"] as? Double) > 0)
                #expect(remote["upper_bound_tokens_per_s"] is NSNull || remote["upper_bound_tokens_per_s"] is Double)
            }
        }

        @Test func optimizeWithServerHasTheInProcessJSONShape() async throws {
            let input = "\(WiringFixtures.dataDirectory)/circuits/nam/tof_3.qasm"
            let directory = LatticeTesting.temporaryDirectory("cli-optimize")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let arguments = ["optimize", input, "--method", "greedy", "--budget", "5", "--json"]
            let local = try json(try await CLIRun.lattice(arguments, in: directory))
            try await LatticeTesting.withService(.circuit) { service in
                let remote = try json(try await CLIRun.lattice(arguments + ["--server", service.address], in: directory))
                #expect(Set(remote.keys) == Set(local.keys))
                #expect(remote["gates_after"] as? Int == local["gates_after"] as? Int)
                #expect(remote["verified"] as? Bool == true)
            }
        }
    }
}
