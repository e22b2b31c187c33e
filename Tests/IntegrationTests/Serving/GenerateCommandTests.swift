import Client
import Foundation
import LatticeTesting
import Testing

/// `lattice generate` against a running scheduler: one JSON line per event, the reference tokens.
@Suite(.timeLimit(.minutes(TestTime.minutes(1))))
struct GenerateCommandTests {
    @Test func generatePrintsEachTokenThenTheFinish() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        let reference = try LatticeCLI.reference(model: model, prompt: [4, 5, 6], maxTokens: 6)
        let cluster = try await ServingCluster.start(model: model, workers: 2)
        do {
            let output = try LatticeCLI.run(["generate", "--scheduler", cluster.scheduler.address, "--prompt-ids", "4,5,6",
                                             "--max-tokens", "6", "--greedy", "--ignore-eos", "--json"])
            let lines = try output.split(separator: "\n").map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            let tokens = lines.filter { $0["event"] as? String == "token" }
            #expect(tokens.compactMap { ($0["token_id"] as? Int).map { UInt32($0) } } == reference.tokens)
            #expect(tokens.compactMap { $0["index"] as? Int } == Array(0..<6))
            #expect(tokens.allSatisfy { $0["logprob"] is Double })
            let finished = try #require(lines.last)
            #expect(finished["event"] as? String == "finished")
            #expect(finished["reason"] as? String == "maxTokens")
            #expect((finished["route"] as? [String])?.count == 2)

            // Plain text mode prints the ids line; bad flags fail with a message.
            let text = try LatticeCLI.run(["generate", "--scheduler", cluster.scheduler.address, "--prompt", "hey", "--max-tokens", "3", "--ignore-eos"])
            #expect(text.contains("ids: "))
            let (both, _, bothError) = try LatticeCLI.runAllowingFailure(["generate", "--scheduler", cluster.scheduler.address, "--prompt", "x", "--prompt-ids", "1"])
            #expect(both != 0 && bothError.contains("exactly one of --prompt"))
            let (outside, _, outsideError) = try LatticeCLI.runAllowingFailure(["generate", "--scheduler", cluster.scheduler.address, "--prompt-ids", "1,999"])
            #expect(outside == 1 && outsideError.contains("outside the vocabulary"))
            // The route names each hop's layers; a chat question needs a model with a chat template.
            let (_, _, summary) = try LatticeCLI.runAllowingFailure(["generate", "--scheduler", cluster.scheduler.address, "--prompt-ids", "4,5,6", "--max-tokens", "2"])
            #expect(summary.contains("route w") && summary.contains(" [0,"), "\(summary)")
            let (chat, _, chatError) = try LatticeCLI.runAllowingFailure(["generate", "--scheduler", cluster.scheduler.address, "--chat", "--prompt", "hi"])
            #expect(chat == 1 && chatError.contains("chat template"), "\(chatError)")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
