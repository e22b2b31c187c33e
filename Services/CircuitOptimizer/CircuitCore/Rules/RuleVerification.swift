import Foundation

/// Rule files are admitted only when every rule is an exact identity (`SymbolicEquivalence`). Checking
/// the shipped file's 1,767 rules takes a while, so a file whose checksum was verified before (the shipped
/// one, or any file already checked by this process) is trusted without checking again.
enum RuleVerification {
    /// FNV-1a checksums of rule files whose every rule passed the symbolic check. The shipped
    /// `Services/CircuitOptimizer/rules/nam.rules` is here (a test checks it still verifies and matches).
    static let shipped: Set<UInt64> = [0xb407_767f_1698_bc91]

    /// Checked by this process: all lines, or only the rule lines (a file read without its classes).
    private static let checkedWhole = VerifiedSet()
    private static let checkedRules = VerifiedSet()

    /// FNV-1a over the file's bytes: detects any edit to a file checked before (not a defence against
    /// someone forging a file with a colliding checksum).
    static func checksum(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01b3
        }
        return h
    }

    static func isTrusted(_ sum: UInt64, classes: Bool) -> Bool {
        shipped.contains(sum) || checkedWhole.contains(sum) || (!classes && checkedRules.contains(sum))
    }

    static func remember(_ sum: UInt64, classes: Bool) { (classes ? checkedWhole : checkedRules).insert(sum) }

    /// Nil when `source` and `target` are equal up to a global phase for all parameter values, else why not.
    static func refutation(_ source: RuleCircuit, _ target: RuleCircuit) -> String? {
        do {
            return try SymbolicEquivalence.equal(source, target) ? nil : "'\(source.text)' and '\(target.text)' are not equal up to a global phase"
        } catch {
            return "'\(source.text)' and '\(target.text)' cannot be checked exactly: \(error)"
        }
    }
}

/// Checksums verified by this process.
private final class VerifiedSet: @unchecked Sendable {
    private let lock = NSLock()
    private var sums = Set<UInt64>()
    func contains(_ s: UInt64) -> Bool { lock.lock(); defer { lock.unlock() }; return sums.contains(s) }
    func insert(_ s: UInt64) { lock.lock(); sums.insert(s); lock.unlock() }
}
