import CircuitCore
import Foundation
import Tensor

/// A trained model on disk: a versioned text header (rule-set fingerprint, sizes, parameter names and
/// shapes) followed by the weights as little-endian float32 in header order.
public struct Checkpoint: Sendable {
    public static let formatVersion = 1
    static let magic = "lattice-quarl-checkpoint"

    public var model: QuarlModel
    /// Identifies the rule set the policy's outputs refer to.
    public var ruleFingerprint: String
    /// Training so far, for the record and for --resume.
    public var trainedSeconds: Double
    public var iterations: Int

    public init(model: QuarlModel, rules: RuleSet, trainedSeconds: Double, iterations: Int) {
        self.model = model
        ruleFingerprint = Checkpoint.fingerprint(rules)
        self.trainedSeconds = trainedSeconds
        self.iterations = iterations
    }

    /// FNV-1a (64 bit) over the rule lines: stable across processes, unlike Swift's seeded Hasher.
    public static func fingerprint(_ rules: RuleSet) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for r in rules.rules {
            for byte in (r.source.text + "=>" + r.target.text + "\n").utf8 {
                h ^= UInt64(byte)
                h = h &* 0x100_0000_01b3
            }
        }
        return String(h, radix: 16)
    }

    public struct FormatError: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    public func encoded() -> Data {
        let c = model.config
        var header = "\(Checkpoint.magic) \(Checkpoint.formatVersion)\n"
        header += "rules \(ruleFingerprint) \(c.rules)\n"
        header += "model embedding \(c.embedding) hidden \(c.hidden) layers \(c.layers)\n"
        header += String(format: "trained %.1f iterations %d\n", trainedSeconds, iterations)
        for name in model.parameters.names { header += "param \(name) " + model.parameters[name]!.shape.map(String.init).joined(separator: " ") + "\n" }
        header += "weights\n"
        var data = Data(header.utf8)
        for name in model.parameters.names {
            for v in model.parameters[name]!.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        }
        return data
    }

    public func save(_ path: String) throws {
        try encoded().write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Reads a checkpoint and checks it was made for `rules`.
    public static func load(_ path: String, rules: RuleSet) throws -> Checkpoint {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FormatError(message: "cannot read checkpoint \(path): \(error.localizedDescription)")
        }
        return try decode(data, rules: rules, source: path)
    }

    public static func decode(_ data: Data, rules: RuleSet, source: String = "checkpoint") throws(FormatError) -> Checkpoint {
        func fail(_ m: String) -> FormatError { FormatError(message: "\(source): \(m)") }
        guard let end = data.range(of: Data("\nweights\n".utf8)) else { throw fail("not a checkpoint (no 'weights' line)") }
        guard let header = String(data: data[data.startIndex..<end.lowerBound], encoding: .utf8) else { throw fail("header is not text") }
        let lines = header.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        guard lines.count >= 4, lines[0] == [magic, String(formatVersion)] else {
            throw fail("expected '\(magic) \(formatVersion)' on the first line: not a checkpoint of this version; train a new one with 'lattice train'")
        }
        guard lines[1].count == 3, lines[1][0] == "rules", let ruleCount = Int(lines[1][2]) else { throw fail("line 2: expected 'rules FINGERPRINT COUNT'") }
        let expected = fingerprint(rules)
        guard lines[1][1] == expected, ruleCount == rules.rules.count else {
            throw fail("made for another rule set (fingerprint \(lines[1][1]), \(ruleCount) rules; the rules in use have \(expected), \(rules.rules.count) rules); use the rule file it was trained with or train a new checkpoint")
        }
        let m = lines[2]
        guard m.count == 7, m[0] == "model", let embedding = Int(m[2]), let hidden = Int(m[4]), let layers = Int(m[6]),
              embedding == 16, hidden > 0, hidden <= 1024, layers > 0, layers <= 16 else { throw fail("line 3: bad model sizes") }
        let t = lines[3]
        guard t.count == 4, t[0] == "trained", let seconds = Double(t[1]), let iterations = Int(t[3]) else { throw fail("line 4: expected 'trained S iterations N'") }
        let config = ModelConfig(rules: ruleCount, hidden: hidden, layers: layers)
        let reference = QuarlModel(config: config, seed: 0).parameters
        var store = ParameterStore()
        var offset = end.upperBound
        for (i, p) in lines.dropFirst(4).enumerated() {
            guard p.count >= 2, p[0] == "param" else { throw fail("line \(i + 5): expected 'param NAME DIMS'") }
            let shape = p.dropFirst(2).compactMap { Int($0) }
            guard let want = reference[p[1]], want.shape == shape else { throw fail("parameter \(p[1]) \(shape) does not belong to a model of these sizes") }
            let count = Tensor.elementCount(shape), bytes = count * 4
            guard offset + bytes <= data.endIndex else { throw fail("truncated: parameter \(p[1]) needs \(bytes) bytes") }
            var scalars = [Float](repeating: 0, count: count)
            data[offset..<(offset + bytes)].withUnsafeBytes { raw in
                for k in 0..<count { scalars[k] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: k * 4, as: UInt32.self))) }
            }
            guard scalars.allSatisfy(\.isFinite) else { throw fail("parameter \(p[1]) holds a value that is not finite") }
            store.set(p[1], Tensor(shape: shape, scalars: scalars)!)
            offset += bytes
        }
        guard offset == data.endIndex else { throw fail("\(data.endIndex - offset) bytes after the last parameter") }
        guard Set(store.names) == Set(reference.names) else { throw fail("missing parameters: \(Set(reference.names).subtracting(store.names).sorted().joined(separator: ", "))") }
        var model = QuarlModel(config: config, seed: 0)
        for name in reference.names { model.parameters.set(name, store[name]!) }
        var checkpoint = Checkpoint(model: model, rules: rules, trainedSeconds: seconds, iterations: iterations)
        checkpoint.ruleFingerprint = expected
        return checkpoint
    }
}

extension Checkpoint {
    /// Where the shipped pretrained checkpoint lives, relative to the repository root.
    public static let shippedPath = "Services/CircuitOptimizer/models/nam.quarl"

    /// `LATTICE_CHECKPOINT`, else the shipped checkpoint found by walking up from `start` (the executable's folder).
    public static func defaultPath(from start: URL) -> String? {
        if let env = ProcessInfo.processInfo.environment["LATTICE_CHECKPOINT"], !env.isEmpty { return env }
        var dir = start
        for _ in 0..<8 {
            let candidate = dir.appendingPathComponent(shippedPath)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}
