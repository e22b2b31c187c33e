import ServiceKit

/// circuit-optimizer-service: OpenQASM 2 in, optimized OpenQASM 2 out.
@main
struct CircuitOptimizerService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuit-optimizer-service", abstract: "Lattice circuit optimizer service: OpenQASM 2 in, optimized OpenQASM 2 out.")
    @OptionGroup var options: ServiceOptions

    func run() async throws {
        try await ServiceMain.run(.circuit, options: options) { _ in }
    }
}
