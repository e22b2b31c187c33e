import ArgumentParser
import Client
import Foundation
import Wire

/// `lattice generate`: a prompt through the scheduler, tokens printed as they stream in.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate tokens through the scheduler, streaming them as they arrive.",
        discussion: "Without --scheduler it uses the scheduler that `lattice up` recorded in --state-dir. Exit status: 0 when the request finishes (max tokens or a stop token), 1 otherwise.")

    @Option(help: "Scheduler address, HOST:PORT (default: the one `lattice up` started).") var scheduler: String?
    @Option(help: "Folder holding `lattice up`'s state file.") var stateDir: String = ".lattice"
    @Option(help: "Prompt text (tokenized by the scheduler).") var prompt: String?
    @Option(help: "Prompt as comma-separated token ids, e.g. 1,2,3.") var promptIds: String?
    @Option(help: "Tokens to generate at most.") var maxTokens: UInt32 = 16
    @Flag(help: "Pick the most likely token (the default unless --temperature > 0).") var greedy = false
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0
    @Option(help: "Nucleus sampling mass in (0, 1].") var topP: Float = 1
    @Option(help: "Sampling seed.") var seed: UInt64 = 0
    @Flag(help: "Run to --max-tokens even past the model's end-of-sequence token.") var ignoreEos = false
    @Flag(help: "--prompt is a question: the scheduler puts it in the model's chat template.") var chat = false
    @Option(help: "Request id (default: the scheduler picks one).") var requestId: String?
    @Option(help: "Seconds the whole request may take (0 = no limit).") var timeout: Double = 0
    @Flag(help: "Print one JSON object per event (queued, token, finished).") var json = false

    func validate() throws {
        guard (prompt == nil) != (promptIds == nil) else { throw ValidationError("give exactly one of --prompt TEXT or --prompt-ids 1,2,3") }
        guard !chat || prompt != nil else { throw ValidationError("--chat takes the question as --prompt TEXT") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature.isFinite, temperature >= 0 else { throw ValidationError("--temperature must be 0 or more") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard timeout >= 0 else { throw ValidationError("--timeout must be 0 or more") }
    }

    func run() async throws {
        let ids = try promptIds.map(Self.parseIDs) ?? []
        let address = try await schedulerAddress()
        let client: ServiceClient
        do { client = try ServiceClient(address: address, config: StackCredentials.forCommands(stateDirectory: stateDir), reconnect: .never) } catch { throw ValidationError("--scheduler: \(error)") }
        let request = GenerateRequest(
            prompt: prompt ?? "", promptTokenIDs: ids, maxTokens: maxTokens,
            sampling: SamplingParams(greedy: greedy || temperature == 0, temperature: temperature, topP: topP, seed: seed),
            deadlineMs: UInt64(timeout * 1000), requestID: requestId ?? "", ignoreEOS: ignoreEos, chat: chat)
        var finished: GenerateFinished?
        var tokens: [UInt32] = []
        do {
            for try await event in client.generate(request) {
                switch event.event {
                case .queued(let queued)?:
                    if json { emit(["event": "queued", "request_id": event.requestID, "position": Int(queued.queuePosition)]) }
                    else { printError("queued (position \(queued.queuePosition))") }
                case .token(let token)?:
                    tokens.append(token.tokenID)
                    if json {
                        var object: [String: Any] = ["event": "token", "request_id": event.requestID, "index": Int(token.index),
                                                     "token_id": Int(token.tokenID), "text": token.text]
                        if let logprob = token.logprob { object["logprob"] = Double(logprob) }
                        emit(object)
                    } else {
                        FileHandle.standardOutput.write(Data(Self.printable(token.text).utf8))
                    }
                case .finished(let done)?:
                    finished = done
                case nil:
                    break
                }
            }
        } catch {
            await client.close()
            printError("lattice generate: \(error)")
            throw ExitCode(1)
        }
        // The layers each hop holds under the plan now (the route itself names only workers).
        let status = try? await client.call(Methods.Scheduler.clusterStatus.name, ClusterStatusRequest(), as: ClusterStatusResponse.self)
        await client.close()
        guard let finished else {
            printError("lattice generate: the stream ended without a finished event")
            throw ExitCode(1)
        }
        if json {
            emit(["event": "finished", "reason": "\(finished.reason)", "prompt_tokens": Int(finished.promptTokens),
                  "generated_tokens": Int(finished.generatedTokens), "tokens": tokens.map(Int.init),
                  "first_token_seconds": finished.firstTokenSeconds, "total_seconds": finished.totalSeconds,
                  "queue_seconds": finished.queueSeconds, "decode_tokens_per_second": finished.decodeTokensPerSecond,
                  "route": finished.route, "detail": finished.detail])
        } else {
            // Unbuffered like the streamed text, so that both come before the summary on stderr.
            FileHandle.standardOutput.write(Data("\nids: \(tokens.map(String.init).joined(separator: ","))\n".utf8))
            printError(String(format: "%d tokens, %@, first token %.3f s, %.1f tokens/s decode, route %@%@",
                              Int(finished.generatedTokens), "\(finished.reason)", finished.firstTokenSeconds, finished.decodeTokensPerSecond,
                              Self.describe(route: finished.route, status: status), finished.detail.isEmpty ? "" : " (\(finished.detail))"))
        }
        guard finished.reason == .maxTokens || finished.reason == .stop else { throw ExitCode(1) }
    }

    /// "worker-1 [0,12) → worker-2 [12,30)"; ids alone when the scheduler did not say.
    static func describe(route: [String], status: ClusterStatusResponse?) -> String {
        let layers = Dictionary((status?.workers ?? []).map { ($0.workerID, $0.layers) }, uniquingKeysWith: { a, _ in a })
        return route.map { id in
            guard let range = layers[id] ?? nil, range.end > range.start else { return id }
            return "\(id) [\(range.start),\(range.end))"
        }.joined(separator: " → ")
    }

    private func schedulerAddress() async throws -> String {
        if let scheduler { return scheduler }
        let stack = LocalStack(stateDirectory: stateDir)
        let members: [LocalStack.Member]?
        do { members = try await stack.status() } catch { throw ValidationError("\(error)") }
        guard let address = members?.first(where: { $0.role == "scheduler" })?.address, !address.isEmpty else {
            throw ValidationError("no scheduler recorded in \(stack.stateDirectory); start one with `lattice up` or pass --scheduler HOST:PORT")
        }
        return address
    }

    static func parseIDs(_ text: String) throws -> [UInt32] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return try parts.enumerated().map { index, part in
            guard let id = UInt32(part) else { throw ValidationError("--prompt-ids: item \(index + 1) ('\(part)') is not a token id") }
            return id
        }
    }

    private func emit(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// Token text with control characters escaped, so that a model's raw bytes cannot drive the
    /// terminal (a random-weight byte-level model emits any byte).
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control && scalar != "\n" && scalar != "\t" {
                out += String(format: "\\x%02X", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
