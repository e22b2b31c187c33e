import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// The live plan against `lattice plan`: 24 emulated workers and the planner's searches make
    /// these the slowest stack tests, so they have a suite, and a time limit, of their own.
    @Suite(.timeLimit(.minutes(TestTime.minutes(3))))
    struct LivePlanTests {
        /// The live plan of an emulated single24 (`lattice up --cluster single24.ini`, 24 worker
        /// processes registering in any order) is the plan `lattice plan` gives the file, same method:
        /// a baseline's construction, and our search (auto) with the same budget and work cap (the
        /// cap, not the machine's speed, ends its searches and the simulated ranking, so equal inputs
        /// give equal plans).
        ///
        /// With the ranking's queries cut to 256 / 64 tokens (bench-serving's), the ranking keeps the
        /// judge's 24-GPU chain that it overrules on the trace's lengths: a service that ignored the
        /// caps would return the Petals plan.
        @Test(arguments: [("swarm", false), ("auto", false), ("auto", true)]) func livePlanOfEmulatedSingle24IsLatticePlan(method: String, capped: Bool) async throws {
            let directory = LatticeTesting.temporaryDirectory("single24")
            let state = "\(directory)/state"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let file = repository.appendingPathComponent("Shared/Data/helix/clusters/single24.ini").path

            // Both sides rank auto's plans by simulation (the default, asked for explicitly), each run 10 s measured rather
            // than 120 s so that the debug build's nine runs per plan fit the time limit.
            let caps = capped ? ["--rank-max-prompt", "256", "--rank-max-output", "64"] : []
            let search = ["--plan-budget", "60", "--plan-max-evaluations", "12", "--plan-rank-candidates", "3", "--plan-rank-seconds", "10"]
                + caps.map { $0.replacingOccurrences(of: "--rank", with: "--plan-rank") }
            let plan = try await CLIRun.lattice(["plan", file, "--method", method, "--connectivity", "strict", "--budget", "60", "--max-evaluations", "12",
                                                 "--rank-candidates", "3", "--rank-seconds", "10", "--json"] + caps, in: directory)
            #expect(plan.status == .exited(0), "\(plan.stderr)")
            if method == "auto" {
                // The ranking ran; on the trace's lengths it overruled the judge's pick (a service that did not rank
                // would return another plan), on the capped queries it kept it (one that ignored the caps would not).
                let statistics = (try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["statistics"] as? [String: Any]
                #expect(statistics?["simulated_candidates"] as? Double == 3, "\(String(describing: statistics))")
                let choice = statistics?["simulated_choice"] as? Double ?? -1
                #expect(capped ? choice == 0 : choice > 0, "\(String(describing: statistics))")
            }
            struct PlanJSON: Decodable { struct Range: Decodable { var node: Int; var start: UInt32; var end: UInt32 }; var placement: [Range] }
            let expected = Dictionary(uniqueKeysWithValues: try JSONDecoder().decode(PlanJSON.self, from: Data(plan.stdout.utf8)).placement
                .map { ("node-\($0.node)", LayerRange(start: $0.start, end: $0.end)) })
            #expect(expected.count == 24)

            let up = try await CLIRun.lattice(["up", "--cluster", file, "--plan-method", method, "--state-dir", state, "--timeout", "\(TestTime.seconds(50))"] + search, in: directory)
            #expect(up.status == .exited(0), "\(up.stderr)")
            do {
                let status = try await CLIRun.lattice(["status", "--json", "--state-dir", state], in: directory)
                let report = try JSONDecoder().decode(LocalStackTests.StatusReport.self, from: Data(status.stdout.utf8))
                let address = try #require(report.processes.first { $0.role == "scheduler" }?.address)
                // `lattice up` wrote the stack's API key to its state folder; ClusterStatus is a client method.
                let client = try ServiceClient(address: address, config: StackCredentials.forCommands(stateDirectory: state))
                // Plans over the first workers to register may come first; each takes a few seconds.
                let live = try await eventually(within: .seconds(90)) {
                    let cluster = try await client.call(Methods.Scheduler.clusterStatus.name, ClusterStatusRequest(), as: ClusterStatusResponse.self, deadline: TestTime.scaled(.seconds(5)))
                    return Dictionary(uniqueKeysWithValues: cluster.workers.compactMap { w in w.layers.map { (w.workerID, $0) } })
                } until: { $0 == expected }
                await client.close()
                #expect(live == expected)
            } catch {
                _ = try? await CLIRun.lattice(["down", "--state-dir", state], in: directory)
                throw error
            }
            let down = try await CLIRun.lattice(["down", "--state-dir", state], in: directory)
            #expect(down.status == .exited(0), "\(down.stderr)")
        }
    }
}
