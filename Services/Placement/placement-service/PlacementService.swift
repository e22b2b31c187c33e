import PlacementCore
import ServiceKit

/// placement-service: cluster + model + profile → layer placement and max flow.
@main
struct PlacementService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement-service", abstract: "Lattice placement service: layer placement and max flow over a cluster.")
    @OptionGroup var options: ServiceOptions

    @Option(help: "Shared data directory (GPU profiles, Helix machine profiles, workload); default $LATTICE_SHARED_DATA or ../shared/data.")
    var data: String?

    func run() async throws {
        let handlers = PlacementHandlers(inputs: PlacementInputs(dataDirectory: data ?? SharedData.directory))
        try await ServiceMain.run(.placement, options: options) { host in handlers.register(on: host) }
    }
}
