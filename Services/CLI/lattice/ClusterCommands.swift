import ArgumentParser

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "health", abstract: "(placeholder: lands with its issue)")
    func run() async throws { throw ValidationError("'lattice health' is not available in this build yet") }
}

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "(placeholder: lands with its issue)")
    func run() async throws { throw ValidationError("'lattice up' is not available in this build yet") }
}

struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "down", abstract: "(placeholder: lands with its issue)")
    func run() async throws { throw ValidationError("'lattice down' is not available in this build yet") }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "(placeholder: lands with its issue)")
    func run() async throws { throw ValidationError("'lattice status' is not available in this build yet") }
}

