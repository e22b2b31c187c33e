import ArgumentParser

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "(placeholder: lands with its issue)")
    func run() async throws { throw ValidationError("'lattice model' is not available in this build yet") }
}

