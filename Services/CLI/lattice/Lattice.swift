import ArgumentParser

/// The `lattice` command line: one subcommand per task, each in its own file.
@main
struct Lattice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lattice",
        abstract: "Heterogeneous LLM serving and learned quantum-circuit optimization.",
        subcommands: [
            HealthCommand.self, UpCommand.self, DownCommand.self, StatusCommand.self,
            PlanCommand.self, SimulateCommand.self, ScoreCommand.self,
            ModelCommand.self, GenerateCommand.self, LoadCommand.self,
            OptimizeCommand.self, RulesCommand.self, TrainCommand.self,
        ])
}
