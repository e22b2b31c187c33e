import ServiceKit

/// scheduler-service: the serving front door (worker registry, routing, token streaming).
@main
struct SchedulerService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler-service", abstract: "Lattice scheduler service: worker registry, request routing, token streaming.")
    @OptionGroup var options: ServiceOptions

    func run() async throws {
        try await ServiceMain.run(.scheduler, options: options) { _ in }
    }
}
