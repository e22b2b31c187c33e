import ArgumentParser
import Client
import Foundation
import WorkerCore

/// `lattice health HOST:PORT`: exit 0 when the service answers SERVING, 1 when it answers
/// anything else, 2 when it cannot be reached or does not answer in time.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Ask a service whether it is serving.",
        discussion: "Exit status: 0 SERVING, 1 answering but not serving, 2 unreachable or no answer in time.")

    @Argument(help: "The service's address, HOST:PORT.") var address: String
    @Option(help: "Which service listens there (placement, scheduler, worker, circuit); by default each is tried.")
    var service: String?
    @Option(help: "Seconds to wait for the answer.") var timeout: Double = 5
    @Option(help: "State folder of the stack whose API key to use (as given to `lattice up`).") var stateDir: String = ".lattice"

    func run() async throws {
        let client: ServiceClient
        do { client = try ServiceClient(address: address, config: StackCredentials.forCommands(stateDirectory: stateDir), reconnect: .never) } catch { throw ValidationError("\(error)") }
        let named = try service.map { text in
            guard let name = ServiceName(named: text) else {
                throw ValidationError("unknown service '\(text)'; use placement, scheduler, worker or circuit")
            }
            return name
        }
        let deadline = try duration(timeout, flag: "--timeout")
        let outcome: Result<(ServiceName, HealthResponse), Error>
        do {
            if let named { outcome = .success((named, try await client.health(named, deadline: deadline))) }
            else { outcome = .success(try await client.identify(deadline: deadline)) }
        } catch {
            outcome = .failure(error)
        }
        await client.close()
        switch outcome {
        case .success(let (name, health)):
            let line = "\(name.displayName) at \(address): \(health.status) (version \(health.version), up \(formatMs(health.uptimeMs)), instance \(health.instanceID))"
            guard health.status == .serving else {
                printError("lattice health: \(line)")
                throw ExitCode(1)
            }
            print(line)
        case .failure(let error as Status) where error.code == .deadlineExceeded:
            printError("lattice health: \(address) did not answer within \(timeout)s (\(error))")
            throw ExitCode(2)
        case .failure(let error as Status) where error.code == .unavailable:
            printError("lattice health: cannot reach \(address): \(error.message)")
            throw ExitCode(2)
        case .failure(let error):
            printError("lattice health: \(address): \(error)")
            throw ExitCode(2)
        }
    }
}

/// `lattice up`: the whole stack as local processes on loopback.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up", abstract: "Start placement, scheduler, circuit optimizer and N workers on loopback.")

    @Option(help: "How many workers to start.") var workers: Int = 2
    @Option(help: "Folder for the state file, logs and pids.") var stateDir: String = ".lattice"
    @Option(help: "Seconds to wait for every service to be serving.") var timeout: Double = 60
    @Option(help: "Model the workers serve: a directory or a .gguf file (default: SmolLM2-135M-Instruct from scripts/setup's cache, else a tiny random-weight model generated in the state dir), or with an emulated --cluster an emulated model name (default llama2-70b).")
    var model: String?
    @Option(help: "Start one worker per node of this cluster file (.ini from Helix as is, or .json): GPU types become emulated workers, CPU-<threads> cpu workers. Replaces --workers.")
    var cluster: String?
    @Option(help: "Scheduler routing: helix, swarm, random or shortest-queue.") var routing: String?
    @Option(help: "Placement method the scheduler asks for: auto, milp, heuristic, petals, swarm or sp.") var planMethod: String?
    @Option(help: "Seconds placement-service may search for each of the scheduler's plans (default: the scheduler's 3).") var planBudget: Double?
    @Option(help: "Cap on placement's search work per plan, as `lattice plan --max-evaluations` (the live plan then is the plan `lattice plan` gives the same cluster, method, budget and cap).")
    var planMaxEvaluations: UInt32?
    @Option(help: "Plans placement-service ranks by simulation at the end of a serving plan, as `lattice plan --rank-candidates` (default placement-service's 3; 0: off).")
    var planRankCandidates: Int?
    @Option(help: "Measured seconds of each of those simulations, as `lattice plan --rank-seconds` (default placement-service's 120).")
    var planRankSeconds: Double?
    @Option(help: "Cap on the prompt tokens of those simulations' queries, as `lattice plan --rank-max-prompt` (default placement-service's 0: the trace's lengths).")
    var planRankMaxPrompt: Int?
    @Option(help: "Cap on their output tokens, as `lattice plan --rank-max-output` (default placement-service's 0: the trace's lengths).")
    var planRankMaxOutput: Int?
    @Option(help: "Scheduler KV admission: online (hwm 0.9, the default) or offline (hwm 0.85, as `lattice simulate --mode offline`).") var kvPolicy: String?
    @Option(help: "Requests the scheduler's admission queue holds (default: the scheduler's 1024); past it a Generate is refused RESOURCE_EXHAUSTED.") var queueLimit: Int?
    @Flag(help: "With --cluster: the workers delay what they send each other by the file's link bandwidths and latencies (a geo-distributed cluster on loopback); the scheduler plans with those links either way.")
    var emulateLinks = false
    @Option(help: "Most layers each worker holds, comma-separated in worker order (e.g. 14,10,6), registered as its layer capacity (placement plans with it). Default: the whole model each.")
    var layerCapacities: String?
    @Option(help: "Compute threads of each cpu worker, comma-separated in worker order (e.g. 2,1,1); workers time their layers with them and placement gives faster ones more work. Default: 1 each.")
    var workerThreads: String?

    func run() async throws {
        guard (0...LocalStack.maxWorkers).contains(workers) else {
            throw ValidationError("--workers must be 0 to \(LocalStack.maxWorkers) (got \(workers))")
        }
        if let queueLimit, queueLimit < 1 { throw ValidationError("--queue-limit must be at least 1 (got \(queueLimit))") }
        let stack = LocalStack(stateDirectory: stateDir)
        let nodes = try cluster.map { try ClusterWorkers(path: $0) }
        do {
            let binaries = try ServiceBinaries.locate()
            let served: String
            if nodes?.isEmulated == true { served = model ?? "llama2-70b" } else {
                served = try model.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? Self.defaultModel(stateDirectory: stack.stateDirectory)
            }
            let modelDirectory = served
            let capacities = try layerCapacities.map { try Self.parseCounts($0, flag: "--layer-capacities") } ?? []
            let threads = try workerThreads.map { try Self.parseCounts($0, flag: "--worker-threads") } ?? []
            var schedulerArguments = ["--model", served]
            if let routing { schedulerArguments += ["--routing", routing] }
            if let planMethod { schedulerArguments += ["--plan-method", planMethod] }
            // The scheduler plans with the links the file declares between its nodes.
            if let cluster { schedulerArguments += ["--cluster", URL(fileURLWithPath: cluster).standardizedFileURL.path] }
            if let planBudget { schedulerArguments += ["--plan-budget", String(planBudget)] }
            if let planMaxEvaluations { schedulerArguments += ["--plan-max-evaluations", String(planMaxEvaluations)] }
            if let kvPolicy { schedulerArguments += ["--kv-policy", kvPolicy] }
            if let queueLimit { schedulerArguments += ["--queue-limit", String(queueLimit)] }
            var placementArguments: [String] = []
            if let planRankCandidates { placementArguments += ["--rank-candidates", String(planRankCandidates)] }
            if let planRankSeconds { placementArguments += ["--rank-seconds", String(planRankSeconds)] }
            if let planRankMaxPrompt { placementArguments += ["--rank-max-prompt", String(planRankMaxPrompt)] }
            if let planRankMaxOutput { placementArguments += ["--rank-max-output", String(planRankMaxOutput)] }
            var workerArguments = ["--model", served]
            // The workers read the links from the same file as the scheduler.
            if let cluster, nodes?.declaresLinks == true {
                if emulateLinks { workerArguments += ["--emulate-links", URL(fileURLWithPath: cluster).standardizedFileURL.path] }
            } else if emulateLinks {
                throw ValidationError("--emulate-links needs a --cluster file that declares links")
            }
            let members = try await stack.up(
                workers: nodes?.names.count ?? workers, binaries: binaries, timeout: try duration(timeout, flag: "--timeout"),
                schedulerArguments: schedulerArguments, workerArguments: workerArguments, placementArguments: placementArguments,
                eachWorker: { number in
                    (nodes?.arguments(number) ?? []) + (number <= capacities.count ? ["--layer-capacity", String(capacities[number - 1])] : [])
                        + (number <= threads.count ? ["--threads", String(threads[number - 1])] : [])
                },
                progress: { printError($0) })
            print(renderTable(members))
            print("model: \(modelDirectory)   generate with: lattice generate --prompt 'Hello' --max-tokens 16\(stateDir == ".lattice" ? "" : " --state-dir \(stateDir)")")
            print("state: \(stack.statePath)   stop with: lattice down\(stateDir == ".lattice" ? "" : " --state-dir \(stateDir)")")
        } catch let error as LocalClusterError {
            printError("lattice up: \(error)")
            throw ExitCode(1)
        }
    }
}

extension UpCommand {
    /// SmolLM2 when scripts/setup fetched it, else the generated tiny model; says which.
    static func defaultModel(stateDirectory: String) throws -> String {
        if let path = DefaultModel.installedPath {
            printError("serving \(DefaultModel.name) from \(path)")
            return path
        }
        printError("\(DefaultModel.path) is missing (scripts/setup fetches it; offline?): serving a tiny random-weight model instead, which generates no readable text")
        return try TinyModel.ensure(in: stateDirectory)
    }

    /// "14,10,6" as positive counts, one per worker in order.
    static func parseCounts(_ text: String, flag: String) throws -> [Int] {
        try text.split(separator: ",").map { part in
            guard let value = Int(part.trimmingCharacters(in: .whitespaces)), value >= 1 else {
                throw ValidationError("\(flag): '\(part)' is not a positive count; write e.g. 14,10,6")
            }
            return value
        }
    }
}

/// `lattice down`: stop what `lattice up` started.
struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down", abstract: "Stop the local stack (SIGTERM, then SIGKILL after the timeout).")

    @Option(help: "Folder holding the stack's state file.") var stateDir: String = ".lattice"
    @Option(help: "Seconds to wait after SIGTERM before SIGKILL.") var timeout: Double = 10

    func run() async throws {
        let stack = LocalStack(stateDirectory: stateDir)
        do {
            guard let stopped = try await stack.down(timeout: try duration(timeout, flag: "--timeout")) else {
                print("no stack recorded in \(stack.stateDirectory); nothing to stop")
                return
            }
            for process in stopped { print("\(process.role) (pid \(process.pid)): \(process.outcome)") }
        } catch let error as LocalClusterError {
            printError("lattice down: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `lattice status`: every process with role, address, pid and health; exit 1 unless all serve.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "List the local stack's processes and their health.",
        discussion: "Exit status: 0 when every process is SERVING, 1 otherwise (or when no stack is recorded).")

    @Option(help: "Folder holding the stack's state file.") var stateDir: String = ".lattice"
    @Flag(help: "Print JSON: {\"stateDir\", \"processes\": [{role, service, address, pid, running, health, log}], \"links\": [{from, to, bandwidthBytesPerSecond, latencySeconds, source}]}.")
    var json = false

    func run() async throws {
        let stack = LocalStack(stateDirectory: stateDir)
        let members: [LocalStack.Member]
        do {
            members = try await stack.status() ?? []
        } catch let error as LocalClusterError {
            printError("lattice status: \(error)")
            throw ExitCode(1)
        }
        let links = await linkReports(of: members)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = StatusReport(stateDir: stack.stateDirectory, processes: members, links: links)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else if members.isEmpty {
            print("no stack recorded in \(stack.stateDirectory) (start one with: lattice up)")
        } else {
            print(renderTable(members))
            print(Self.renderLinks(links))
        }
        if members.isEmpty || !members.allSatisfy(\.isHealthy) { throw ExitCode(1) }
    }

    struct StatusReport: Encodable {
        var stateDir: String
        var processes: [LocalStack.Member]
        var links: [LinkReport]
    }

    struct LinkReport: Encodable {
        var from: String
        var to: String
        var bandwidthBytesPerSecond: Double
        var latencySeconds: Double
        var source: String
    }

    /// The links the scheduler plans with (empty when it does not answer).
    func linkReports(of members: [LocalStack.Member]) async -> [LinkReport] {
        guard let scheduler = members.first(where: { $0.role == "scheduler" && $0.isHealthy }),
              let client = try? ServiceClient(address: scheduler.address, config: StackCredentials.forCommands(stateDirectory: stateDir), reconnect: .never) else { return [] }
        let status = try? await client.call(Methods.Scheduler.clusterStatus.name, ClusterStatusRequest(), as: ClusterStatusResponse.self, deadline: .seconds(5))
        await client.close()
        return (status?.links ?? []).map {
            LinkReport(from: $0.fromNode, to: $0.toNode, bandwidthBytesPerSecond: $0.bandwidthBytesPerSecond, latencySeconds: $0.latencySeconds, source: $0.source)
        }
    }

    /// Measured and declared links, one a line; the assumed ones counted.
    static func renderLinks(_ links: [LinkReport]) -> String {
        let known = links.filter { $0.source != "assumed" }
        var lines = ["links: \(known.filter { $0.source == "measured" }.count) measured, \(known.filter { $0.source == "declared" }.count) declared, \(links.count - known.count) assumed (1 GB/s, no latency)"]
        lines += known.map { String(format: "  %@ - %@  %.1f MB/s  %.3f ms  %@", $0.from, $0.to, $0.bandwidthBytesPerSecond / 1e6, $0.latencySeconds * 1000, $0.source) }
        return lines.joined(separator: "\n")
    }
}

/// Columns of role, service, address, pid, health.
private func renderTable(_ members: [LocalStack.Member]) -> String {
    let rows = [["ROLE", "SERVICE", "ADDRESS", "PID", "HEALTH"]]
        + members.map { [$0.role, $0.service, $0.address.isEmpty ? "-" : $0.address, String($0.pid), $0.health] }
    let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { column, cell in
            column == 4 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

/// Seconds from a flag as a Duration; rejects what is not a positive finite number.
private func duration(_ seconds: Double, flag: String) throws -> Duration {
    guard seconds.isFinite, seconds > 0, seconds < 1e9 else {
        throw ValidationError("\(flag) must be a positive number of seconds (got \(seconds))")
    }
    return .milliseconds(Int64((seconds * 1000).rounded(.up)))
}

private func formatMs(_ ms: UInt64) -> String {
    ms < 1000 ? "\(ms)ms" : String(format: "%.1fs", Double(ms) / 1000)
}

private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
