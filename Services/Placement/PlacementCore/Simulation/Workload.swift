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

    public static func load(directory: String) throws -> Workload {
        let input = try column(directory + "/azure_conv_input.csv")
        let output = try column(directory + "/azure_conv_output.csv")
        guard input.count == output.count, !input.isEmpty else {
            throw PlacementError(file: directory, "input and output length files must have the same, non-zero number of rows (\(input.count) vs \(output.count))")
        }
        let trace = try column(directory + "/azure_conv_arrive_time.csv")
        return Workload(inputLengths: input.map { max(1, Int($0)) }, outputLengths: output.map { max(1, Int($0)) }, arrivalTrace: trace)
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
