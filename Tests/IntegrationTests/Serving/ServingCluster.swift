import Client
import Foundation
import LatticeTesting
import Testing

/// A scheduler and N cpu workers as real processes on loopback, serving a tiny generated model.
final class ServingCluster: Sendable {
    let model: String
    let scheduler: TestService
    let workers: Locked<[TestService]>

    private init(model: String, scheduler: TestService) {
        self.model = model
        self.scheduler = scheduler
        workers = Locked([])
    }

    /// Starts the scheduler and `count` workers, and waits until every worker serves its layers.
    static func start(model: String, workers count: Int, workerArguments: [String] = [], schedulerArguments: [String] = []) async throws -> ServingCluster {
        let scheduler = try await LatticeTesting.start(.scheduler, arguments: ["--model", model, "--heartbeat-interval", "\(TestTime.seconds(0.2))", "--dead-after", "\(TestTime.seconds(1.5))", "--step-timeout", "\(TestTime.seconds(60))"] + schedulerArguments)
        let cluster = ServingCluster(model: model, scheduler: scheduler)
        do {
            for index in 1...max(count, 1) where count > 0 {
                try await cluster.addWorker("w\(index)", arguments: workerArguments)
            }
            try await cluster.waitUntilServing(workers: count)
        } catch {
            await cluster.stop()
            throw error
        }
        return cluster
    }

    /// Three emulated A100 workers of at most 30 layers on llama2-70b (80 layers): every request
    /// passes all three. `kvTokens` per worker; the scheduler lets one client run 1000 calls.
    static func emulatedChain(kvTokens: Int) async throws -> ServingCluster {
        try await start(model: "llama2-70b", workers: 3,
                        workerArguments: ["--backend", "emulated", "--gpu", "A100-40G", "--layer-capacity", "30", "--kv-tokens", "\(kvTokens)"],
                        schedulerArguments: ["--max-calls-per-client", "1000"])
    }

    /// `count` greedy generations of `maxTokens` at once over one client, each with a 16-token
    /// prompt of its own and the request id `idPrefix` + its index; every stream's events (in the
    /// order they finished). `finished` is called as each stream ends.
    func generateConcurrently(count: Int, maxTokens: Int, idPrefix: String, deadline: Duration,
                              finished: @escaping @Sendable () -> Void = {}) async throws -> [[GenerateEvent]] {
        let client = scheduler.client()
        do {
            let results = try await withThrowingTaskGroup(of: [GenerateEvent].self) { group in
                for index in 0..<count {
                    group.addTask {
                        let prompt = (0..<16).map { UInt32(1 + (index * 16 + $0) % 31999) }
                        var events: [GenerateEvent] = []
                        for try await event in client.stream(Methods.Scheduler.generate.name,
                                                             GenerateRequest(promptTokenIDs: prompt, maxTokens: UInt32(maxTokens), requestID: "\(idPrefix)\(index)", ignoreEOS: true),
                                                             as: GenerateEvent.self, deadline: TestTime.scaled(deadline)) { events.append(event) }
                        finished()
                        return events
                    }
                }
                var all: [[GenerateEvent]] = []
                for try await events in group { all.append(events) }
                return all
            }
            await client.close()
            return results
        } catch {
            await client.close()
            throw error
        }
    }

    func addWorker(_ id: String, arguments: [String] = [], environment: [String: String] = [:]) async throws {
        let worker = try await LatticeTesting.start(.worker, arguments: ["--scheduler", scheduler.address, "--model", model, "--worker-id", id] + arguments,
                                                    environment: environment)
        workers.withLock { $0.append(worker) }
    }

    /// Polls ClusterStatus until `workers` workers hold layers and all of those serve (`timeout` scaled by TestTime).
    func waitUntilServing(workers expected: Int, timeout: Duration = .seconds(30)) async throws {
        let timeout = TestTime.scaled(timeout)
        let deadline = ContinuousClock.now + timeout
        var last = ClusterStatusResponse()
        while ContinuousClock.now < deadline {
            last = try await status()
            let placed = last.workers.filter { ($0.layers?.end ?? 0) > ($0.layers?.start ?? 0) }
            if placed.count == expected, placed.allSatisfy({ $0.health == .serving }) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServingTestError("cluster not serving with \(expected) workers after \(timeout): \(last.workers.map { "\($0.workerID) \($0.health) \($0.layers.map { "[\($0.start),\($0.end))" } ?? "-")" })\nscheduler log:\n\(scheduler.log.suffix(3000))")
    }

    func status() async throws -> ClusterStatusResponse {
        let client = scheduler.client()
        defer { Task { await client.close() } }
        return try await client.call(Methods.Scheduler.clusterStatus.name, ClusterStatusRequest(), as: ClusterStatusResponse.self, deadline: TestTime.scaled(.seconds(5)))
    }

    /// Runs a Generate to the end; every event in order.
    func generate(_ request: GenerateRequest, onToken: @Sendable (Int) async -> Void = { _ in }) async throws -> [GenerateEvent] {
        let client = scheduler.client()
        var events: [GenerateEvent] = []
        do {
            for try await event in client.stream(Methods.Scheduler.generate.name, request, as: GenerateEvent.self, deadline: TestTime.scaled(.seconds(60))) {
                events.append(event)
                if case .token(let token)? = event.event { await onToken(Int(token.index)) }
            }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        return events
    }

    func stop() async {
        for worker in workers.withLock({ $0 }) { await worker.stop(timeout: .seconds(5)) }
        await scheduler.stop(timeout: .seconds(5))
    }
}

extension [GenerateEvent] {
    var tokens: [UInt32] { compactMap { if case .token(let t)? = $0.event { t.tokenID } else { nil } } }
    var logprobs: [Float?] { compactMap { if case .token(let t)? = $0.event { t.logprob } else { nil } } }
    var finished: GenerateFinished? { compactMap { if case .finished(let f)? = $0.event { f } else { nil } }.last }
}

struct ServingTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A value behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// The `lattice` CLI beside the services: model init and the in-process reference run.
enum LatticeCLI {
    static func run(_ arguments: [String]) throws -> String {
        let (status, output, errors) = try runAllowingFailure(arguments)
        guard status == 0 else {
            throw ServingTestError("lattice \(arguments.joined(separator: " ")) exited \(status): \(errors)")
        }
        return output
    }

    /// Exit status, stdout and stderr.
    static func runAllowingFailure(_ arguments: [String]) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(try LatticeTesting.binaries().directory)/lattice")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }

    /// A fresh tiny random-weight model.
    static func tinyModel(layers: Int = 4, hidden: Int = 64, intermediate: Int = 172, maxPositions: Int = 2048) throws -> String {
        let directory = LatticeTesting.temporaryDirectory("model") + "/tiny"
        _ = try run(["model", "init", directory, "--layers", "\(layers)", "--hidden", "\(hidden)", "--intermediate", "\(intermediate)",
                     "--heads", "4", "--kv-heads", "2", "--seed", "7", "--max-positions", "\(maxPositions)"])
        return directory
    }

    /// Greedy tokens and the logits of the last step from the whole model in one process.
    static func reference(model: String, prompt: [UInt32], maxTokens: Int) throws -> (tokens: [UInt32], lastLogits: [Double]) {
        let text = try run(["model", "run", model, "--prompt-ids", prompt.map(String.init).joined(separator: ","),
                            "--max-tokens", "\(maxTokens)", "--greedy", "--json"])
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let tokens = object["tokens"] as? [Int], let logits = object["last_logits"] as? [Double] else {
            throw ServingTestError("lattice model run --json printed something else: \(text.prefix(300))")
        }
        return (tokens.map { UInt32($0) }, logits)
    }
}
