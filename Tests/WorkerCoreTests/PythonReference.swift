import Foundation

/// Finds a python3 with NumPy, installing NumPy into a venv under ~/.cache when it is missing.
enum PythonReference {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static let scriptPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/reference_llama.py").path

    /// The interpreter to use, or why there is none (nil error means ready).
    static let interpreter: Result<String, Failure> = {
        if (try? run("/usr/bin/env", ["python3", "-c", "import numpy"]))?.status == 0 { return .success("python3") }
        let venv = (NSHomeDirectory() as NSString).appendingPathComponent(".cache/lattice/numpy-venv")
        let python = venv + "/bin/python3"
        if (try? run(python, ["-c", "import numpy"]))?.status == 0 { return .success(python) }
        guard let made = try? run("/usr/bin/env", ["python3", "-m", "venv", venv]), made.status == 0 else {
            return .failure(Failure(description: "python3 -m venv \(venv) failed; install python3-venv"))
        }
        guard let pip = try? run(python, ["-m", "pip", "install", "--quiet", "numpy"]), pip.status == 0 else {
            return .failure(Failure(description: "pip could not install numpy into \(venv) (is PyPI reachable?)"))
        }
        return .success(python)
    }()

    static var available: Bool { if case .success = interpreter { return true } else { return false } }

    /// Greedy tokens and the logits behind each, from the NumPy reference.
    static func generate(model: String, prompt: [Int32], maxTokens: Int) throws -> (tokens: [Int32], logits: [[Float]]) {
        let python = try interpreter.get()
        let arguments = [scriptPath, model, "--prompt-ids", prompt.map(String.init).joined(separator: ","), "--max-tokens", String(maxTokens)]
        let result = try python == "python3" ? run("/usr/bin/env", ["python3"] + arguments) : run(python, arguments)
        guard result.status == 0,
              let json = try JSONSerialization.jsonObject(with: result.output) as? [String: Any],
              let tokens = json["tokens"] as? [Int], let logits = json["logits"] as? [[Double]] else {
            throw Failure(description: "reference failed (status \(result.status)): \(String(decoding: result.output, as: UTF8.self).prefix(500))")
        }
        return (tokens.map(Int32.init), logits.map { $0.map(Float.init) })
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
