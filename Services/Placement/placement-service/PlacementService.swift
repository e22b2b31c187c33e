import ServiceKit

/// placement-service: cluster + model + profile → layer placement and max flow.
@main
struct PlacementService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement-service", abstract: "Lattice placement service: layer placement and max flow over a cluster.")
    @OptionGroup var options: ServiceOptions

    func run() async throws {
        try await ServiceMain.run(.placement, options: options) { _ in }
    }
}
