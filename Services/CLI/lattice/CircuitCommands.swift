import ArgumentParser

struct OptimizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "optimize", abstract: "(placeholder: lands with its issue)")
    func run() async throws { throw ValidationError("'lattice optimize' is not available in this build yet") }
}

struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rules", abstract: "(placeholder: lands with its issue)")
    func run() async throws { throw ValidationError("'lattice rules' is not available in this build yet") }
}

