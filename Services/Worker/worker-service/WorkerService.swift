import Foundation
import ServiceKit

/// worker-service: a contiguous range of transformer layers and its KV cache.
@main
struct WorkerService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker-service", abstract: "Lattice worker service: a range of transformer layers and its KV cache.")
    @OptionGroup var options: ServiceOptions
    @Option(help: "Scheduler to register with, HOST:PORT. [env: LATTICE_SCHEDULER]")
    var scheduler: String?

    func run() async throws {
        let scheduler = try WorkerOptions.scheduler(flag: scheduler, environment: ProcessInfo.processInfo.environment)
        try await ServiceMain.run(.worker, options: options) { host in
            host.logger.info("scheduler", metadata: ["address": "\(scheduler ?? "none")"])
        }
    }
}
