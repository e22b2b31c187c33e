import CircuitCore
import CircuitLearning
import Foundation

/// Reading the files circuit commands take, with errors that name the file.
enum CircuitSources {
    static var executableFolder: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent() }

    static func circuit(_ path: String) throws -> Circuit {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CircuitCLIError("cannot read \(path): \(error.localizedDescription)")
        }
        do { return try QASMParser.parse(text) } catch { throw CircuitCLIError("\(path): \(error)") }
    }

    /// The rule file at `path`, or the shipped Nam rules.
    static func rules(_ path: String?) throws -> RuleSet {
        guard let path else {
            do { return try RuleSet.standard(from: executableFolder) } catch { throw CircuitCLIError("\(error)") }
        }
        do { return try RuleSet.load(path) } catch { throw CircuitCLIError("\(path): \(error)") }
    }

    /// The checkpoint at `path`, or the shipped one; checked against `rules`.
    static func checkpoint(_ path: String?, rules: RuleSet) throws -> Checkpoint {
        guard let file = path ?? Checkpoint.defaultPath(from: executableFolder) else {
            throw CircuitCLIError("no checkpoint: \(Checkpoint.shippedPath) is missing; pass --checkpoint FILE or set LATTICE_CHECKPOINT")
        }
        do { return try Checkpoint.load(file, rules: rules) } catch { throw CircuitCLIError("\(error)") }
    }
}
