import ArgumentParser

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "(placeholder: lands with its issue)")
    func run() async throws { throw ValidationError("'lattice plan' is not available in this build yet") }
}

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "simulate", abstract: "(placeholder: lands with its issue)")
    func run() async throws { throw ValidationError("'lattice simulate' is not available in this build yet") }
}

struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "score", abstract: "(placeholder: lands with its issue)")
    func run() async throws { throw ValidationError("'lattice score' is not available in this build yet") }
}

