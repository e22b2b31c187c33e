import ArgumentParser
import Client
import Foundation
import PlacementCore

/// `lattice load`: the closed-loop load of scripts/bench-serving, from one process (many
/// generations over one connection), so that hundreds in flight cost no process per request.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", abstract: "Keep N generations in flight against a `lattice up` stack and report decode tokens/s and latencies.",
        discussion: "Requests take the Azure conversation lengths of the shared workload as `lattice simulate --seed` draws them, the same queries in the same order for the same seed, capped by --max-prompt and --max-output; the generations join evenly over the first half of the warm-up. Prints one JSON object: decode tokens/s in the window after --warmup, prompt latency (first token after sending, the admission queue included) and decode latency (between tokens) p50/p99, finished requests, and the CPU seconds per decode token of the scheduler and of all workers over the window.")

    @Option(help: "Folder holding `lattice up`'s state file.") var stateDir: String = ".lattice"
    @Option(help: "Generations kept in flight.") var concurrency: Int = 256
    @Option(help: "Measured seconds, after the warm-up.") var seconds: Double = 60
    @Option(help: "Seconds of load before the window opens.") var warmup: Double = 20
    @Option(help: "Cap on prompt tokens per request (0: the trace's lengths).") var maxPrompt: Int = 0
    @Option(help: "Cap on output tokens per request (0: the trace's lengths).") var maxOutput: Int = 0
    @Option(help: "Prompt ids are drawn from 1..<VOCAB.") var vocabulary: Int = 32000
    @Option(help: "Name put in the report.") var name: String = "load"
    @Option(help: "Seed of the query draws: `lattice simulate --seed` with the same seed issues the same queries in the same order.") var seed: UInt64 = 1

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard seconds > 0, seconds.isFinite, warmup >= 0, warmup.isFinite else { throw ValidationError("--seconds must be positive and --warmup 0 or more") }
        guard maxPrompt >= 0, maxOutput >= 0 else { throw ValidationError("--max-prompt and --max-output must be 0 (no cap) or more") }
        guard vocabulary >= 2 else { throw ValidationError("--vocabulary must be at least 2") }
    }

    func run() async throws {
        let members: [LocalStack.Member]
        do { members = try await LocalStack(stateDirectory: stateDir).status() ?? [] } catch { throw ValidationError("\(error)") }
        guard let scheduler = members.first(where: { $0.role == "scheduler" }), !scheduler.address.isEmpty else {
            throw ValidationError("no scheduler recorded in \(stateDir); start a stack with `lattice up --state-dir \(stateDir)`")
        }
        let workload: Workload
        do { workload = try Workload.azureConversations() } catch let error as PlacementError {
            throw ValidationError(error.description)
        }
        // The simulator's draws, not the file's rows in order: its early rows are not typical (the
        // first 500 capped prompts average 233 tokens against 243), and on a link-bound cluster
        // smaller prompts admit more requests (geo24 Swarm: 96.5 simulated decode tokens/s in file
        // order against 93.0 for seed 1's draws). One draw per row is more than any run sends.
        let requests = workload.offlineDraws(count: workload.inputLengths.count, seed: seed).map { input, output in
            ServingLoad.Request(promptTokens: maxPrompt > 0 ? min(input, maxPrompt) : input,
                                // The simulator's request runs one prompt iteration and `output` decode iterations.
                                outputTokens: 1 + (maxOutput > 0 ? min(output, maxOutput) : output))
        }
        let client = try ServiceClient(address: scheduler.address, config: StackCredentials.forCommands(stateDirectory: stateDir), reconnect: .default)
        try await Self.waitForAPlan(client)
        let pids = (scheduler: scheduler.pid, workers: members.filter { $0.role.hasPrefix("worker") }.map(\.pid))
        let cpu = CPUWindow()
        let credentials = StackCredentials.forCommands(stateDirectory: stateDir)
        let workers = WorkerWindow(workers: try members.filter { $0.role.hasPrefix("worker") && !$0.address.isEmpty }.map {
            ($0.role, try ServiceClient(address: $0.address, config: credentials, reconnect: .default))
        })
        let load = ServingLoad(requests: requests, concurrency: concurrency, warmupSeconds: warmup, measureSeconds: seconds, vocabulary: vocabulary)
        // The scheduler's admission queue at the window's close: requests waiting there mean the
        // cluster ran as full as its KV admission lets it (the load saturated it).
        let closing = StatusAtClose()
        let report = await load.run(client: client) { opening in
            cpu.mark(opening, scheduler: ProcessCPU.seconds(pid: pids.scheduler), workers: pids.workers.map(ProcessCPU.seconds).reduce(0, +))
            workers.mark(opening)
            if !opening { closing.ask(client) }
        }
        let status = await closing.value
        await client.close()
        let tokens = Double(max(1, report.decodeTokens))
        var object: [String: Any] = [
            "name": name, "decode_tokens_per_s": report.decodeTokensPerSecond,
            "prompt_p50": report.promptP50, "prompt_p99": report.promptP99, "decode_p50": report.decodeP50, "decode_p99": report.decodeP99,
            "finished": report.finished, "failures": report.failures, "concurrency": concurrency, "max_prompt": maxPrompt, "max_output": maxOutput,
            "scheduler_cpu_seconds_per_token": cpu.scheduler / tokens, "workers_cpu_seconds_per_token": cpu.workers / tokens,
            // Cores the scheduler kept busy in the window: far below one, it cannot be what limits the workers.
            "scheduler_cpu_cores": cpu.scheduler / seconds, "workers": await workers.report(),
            "queued_at_close": status.map { Int($0.queueLength) } ?? -1, "active_at_close": status.map { Int($0.activeRequests) } ?? -1,
        ]
        if let failure = report.firstFailure { object["first_failure"] = failure }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

extension LoadCommand {
    /// Waits until a one-token request goes through (a fresh stack is still planning and loading), at most two minutes.
    static func waitForAPlan(_ client: ServiceClient) async throws {
        let probe = GenerateRequest(promptTokenIDs: [1, 2, 3], maxTokens: 1, sampling: SamplingParams(greedy: true, topP: 1), ignoreEOS: true)
        let deadline = ContinuousClock.now + .seconds(120)
        var last = "no answer"
        while ContinuousClock.now < deadline {
            do {
                for try await event in client.stream(Methods.Scheduler.generate.name, probe, as: GenerateEvent.self, deadline: .seconds(30)) {
                    if case .finished(let done)? = event.event {
                        if done.reason == .maxTokens || done.reason == .stop { return }
                        last = "\(done.reason): \(done.detail)"
                    }
                }
            } catch { last = "\(error)" }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw ValidationError("the stack served no request in two minutes (last: \(last)); see its scheduler.log")
    }
}

/// The scheduler's status asked for at the window's close (from the load's synchronous callback).
final class StatusAtClose: @unchecked Sendable {
    private let lock = NSLock()
    private var task: Task<ClusterStatusResponse?, Never>?
    func ask(_ client: ServiceClient) {
        let task = Task { try? await client.call(Methods.Scheduler.clusterStatus.name, ClusterStatusRequest(), as: ClusterStatusResponse.self, deadline: .seconds(10)) }
        lock.withLock { self.task = task }
    }
    var value: ClusterStatusResponse? { get async { await lock.withLock { task }?.value ?? nil } }
}

/// CPU seconds of the scheduler and the workers between the window's opening and closing marks.
final class CPUWindow: @unchecked Sendable {
    private let lock = NSLock()
    private var opened = (scheduler: 0.0, workers: 0.0)
    private(set) var scheduler = 0.0, workers = 0.0

    func mark(_ opening: Bool, scheduler s: Double, workers w: Double) {
        lock.withLock {
            if opening { opened = (s, w) } else { scheduler = s - opened.scheduler; workers = w - opened.workers }
        }
    }
}

/// User + system CPU seconds of a process from /proc (0 where /proc has no such process).
enum ProcessCPU {
    static func seconds(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 0, utime field 11, stime field 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
