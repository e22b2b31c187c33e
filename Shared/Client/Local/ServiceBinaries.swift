import Foundation
import Wire

/// Finds the service executables: LATTICE_BIN_DIR if set, else the folder of the running
/// program (the CLI and the test runner sit beside the services in `.build/<config>`), else
/// `.build/debug` under the working directory, else PATH.
public struct ServiceBinaries: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceBinaries {
        let probe = ServiceName.placement.executableName
        if let override = environment["LATTICE_BIN_DIR"], !override.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: "\(override)/\(probe)") else {
                throw LocalClusterError("LATTICE_BIN_DIR=\(override) has no \(probe); point it at the folder that holds the built services (e.g. .build/debug)")
            }
            return ServiceBinaries(directory: override)
        }
        var candidates: [String] = []
        // Walk up from the running program: on macOS the test runner sits deep inside an .xctest bundle.
        var folder = (runningProgramPath() as NSString).deletingLastPathComponent
        for _ in 0..<5 where !folder.isEmpty && folder != "/" {
            candidates.append(folder)
            folder = (folder as NSString).deletingLastPathComponent
        }
        let cwd = FileManager.default.currentDirectoryPath
        candidates += ["\(cwd)/.build/debug", "\(cwd)/.build/release"]
        candidates += (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: "\(candidate)/\(probe)") {
            return ServiceBinaries(directory: candidate)
        }
        throw LocalClusterError("cannot find \(probe) (looked beside \(runningProgramPath()), in .build/debug and on PATH); run `swift build` first or set LATTICE_BIN_DIR to the folder holding the service executables")
    }

    /// The path of a service's executable; a clear error if it is not built.
    public func path(for service: ServiceName) throws -> String {
        let path = "\(directory)/\(service.executableName)"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw LocalClusterError("\(service.executableName) is missing from \(directory); run `swift build` first (it builds every service)")
        }
        return path
    }

    private static func runningProgramPath() -> String {
        #if os(Linux)
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
        #endif
        return (CommandLine.arguments.first.map { URL(fileURLWithPath: $0).standardizedFileURL.path }) ?? ""
    }
}
