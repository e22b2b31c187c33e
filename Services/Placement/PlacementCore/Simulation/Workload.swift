import DeterministicRandom
import Foundation

/// Request lengths and the arrival-rate trace (the artifact's Azure conversation workload).
public struct Workload: Sendable {
    public var inputLengths: [Int]
    public var outputLengths: [Int]
    /// Relative arrival rate per 3-second bucket.
    public var arrivalTrace: [Double]

    public init(inputLengths: [Int], outputLengths: [Int], arrivalTrace: [Double]) {
        self.inputLengths = inputLengths
        self.outputLengths = outputLengths
        self.arrivalTrace = arrivalTrace
    }

    public var meanInput: Double { Double(inputLengths.reduce(0, +)) / Double(max(1, inputLengths.count)) }
    public var meanOutput: Double { Double(outputLengths.reduce(0, +)) / Double(max(1, outputLengths.count)) }

    /// The generator an offline simulation with `seed` draws its queries from (`drawRow`).
    static func queryGenerator(seed: UInt64) -> SplitMix64 { SplitMix64(plannerSeed: seed) }

    /// The row a query takes: a uniform draw, as the artifact's feeders draw lengths
    /// (`LengthSampler.sample_length`). The file is in trace order and its early rows are not
    /// typical (capped at 256 / 64 tokens, its first 500 prompts average 233 tokens against 243),
    /// so a run that took rows in order would serve another mix of queries.
    func drawRow<G: RandomNumberGenerator>(using rng: inout G) -> Int { Int.random(in: 0..<inputLengths.count, using: &rng) }

    /// The first `count` queries an offline simulation with `seed` issues, in its order: offline,
    /// its generator draws nothing else, so a live closed loop that sends these (`lattice load
    /// --seed`) serves the same queries in the same order as `lattice simulate --seed`.
    public func offlineDraws(count: Int, seed: UInt64) -> [(input: Int, output: Int)] {
        guard !inputLengths.isEmpty else { return [] }
        var rng = Self.queryGenerator(seed: seed)
        return (0..<count).map { _ in
            let row = drawRow(using: &rng)
            return (inputLengths[row], outputLengths[row])
        }
    }

    /// The same queries with each prompt cut to `prompt` tokens and each output to `output` (0: no
    /// cap), as `lattice load --max-prompt/--max-output` cut the queries a live client sends.
    public func capped(prompt: Int, output: Int) -> Workload {
        var capped = self
        if prompt > 0 { capped.inputLengths = inputLengths.map { min($0, prompt) } }
        if output > 0 { capped.outputLengths = outputLengths.map { min($0, output) } }
        return capped
    }

    /// The Azure conversation workload in the shared data directory (`helix/workload`): the one
    /// place `lattice plan|simulate|load` and placement-service find the trace they replay.
    public static func azureConversations(dataDirectory: String = SharedData.directory) throws -> Workload {
        try load(directory: dataDirectory + "/helix/workload")
    }

    public static func load(directory: String) throws -> Workload {
        let input = try column(directory + "/azure_conv_input.csv")
        let output = try column(directory + "/azure_conv_output.csv")
        guard input.count == output.count, !input.isEmpty else {
            throw PlacementError(file: directory, "input and output length files must have the same, non-zero number of rows (\(input.count) vs \(output.count))")
        }
        let trace = try column(directory + "/azure_conv_arrive_time.csv")
        return Workload(inputLengths: input.map { max(1, Int($0)) }, outputLengths: output.map { max(1, Int($0)) }, arrivalTrace: trace)
    }

    /// Online arrival times over `duration` seconds for a target rate of `tokenRate` (prompt + output)
    /// tokens/s, as the artifact's trace generator makes them: each 3-second interval takes the rate
    /// of a bucket drawn from the trace, rescaled so the trace's mean becomes the target request rate;
    /// the interval gets that many requests (rounded, the remainder carried to the next interval),
    /// at uniform times within it. Drawing whole counts per interval keeps a zero-rate bucket an
    /// empty interval rather than a gap that swallows the rest of the run.
    public func arrivalTimes<G: RandomNumberGenerator>(tokenRate: Double, duration: Double, using rng: inout G) -> [Double] {
        let interval = 3.0  // the trace's bucket width (spec §6: 1200 buckets of 3 s)
        let requestRate = tokenRate / max(1, meanInput + meanOutput)
        let meanBucket = arrivalTrace.reduce(0, +) / Double(max(1, arrivalTrace.count))
        var times: [Double] = []
        var carry = 0.0
        var start = 0.0
        while start < duration {
            let relative = arrivalTrace.isEmpty || meanBucket <= 0 ? 1 : arrivalTrace[Int.random(in: 0..<arrivalTrace.count, using: &rng)] / meanBucket
            let expected = relative * requestRate * interval + carry
            let count = max(0, Int(expected.rounded()))
            carry = expected - Double(count)
            times += (0..<count).map { _ in start + interval * Double.random(in: 0..<1, using: &rng) }.sorted()
            start += interval
        }
        return times.filter { $0 < duration }
    }

    /// Queries listed one a line as `input,output` token counts (a header line allowed), to be
    /// issued in that order (`SimulationConfig.queriesInOrder`): e.g. the queries the Helix
    /// artifact's feeder draws (scripts/helix-sim-queries.py), so both simulators serve the same ones.
    public static func queries(path: String, arrivalTrace: [Double] = []) throws -> Workload {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw PlacementError(file: path, "cannot read the file (does it exist?)")
        }
        var input: [Int] = [], output: [Int] = []
        for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, let a = Int(fields[0]), let b = Int(fields[1]), a >= 1, b >= 0 else {
                if i == 0 { continue }
                throw PlacementError(file: path, "line \(i + 1): expected 'input,output' token counts (input at least 1), found '\(line)'")
            }
            input.append(a)
            output.append(b)
        }
        guard !input.isEmpty else { throw PlacementError(file: path, "lists no queries") }
        return Workload(inputLengths: input, outputLengths: output, arrivalTrace: arrivalTrace)
    }

    static func column(_ path: String) throws -> [Double] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw PlacementError(file: path, "cannot read the file (does it exist?)")
        }
        var values: [Double] = []
        for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let field = line.trimmingCharacters(in: .whitespaces)
            if let v = Double(field) { values.append(v) } else if i > 0 {
                throw PlacementError(file: path, "line \(i + 1): expected a number, found '\(field)'")
            }
        }
        return values
    }
}
