import CircuitCore
import CircuitLearning
import Foundation
import Testing

/// The pretrained checkpoint in the repository must load against the shipped rules.
@Suite struct ShippedCheckpointTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func shippedCheckpointFitsTheShippedRules() throws {
        let rules = try RuleSet.load(Self.root.appendingPathComponent("Services/CircuitOptimizer/rules/nam.rules").path)
        let path = Self.root.appendingPathComponent(Checkpoint.shippedPath).path
        let checkpoint = try Checkpoint.load(path, rules: rules)
        #expect(checkpoint.model.config.rules == rules.rules.count)
        #expect(checkpoint.iterations > 0 && checkpoint.trainedSeconds > 60)
        // Small enough to keep in git.
        let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? .max
        #expect(bytes < 4_000_000)
    }
}
