import Foundation

/// How a process ended.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let number): "killed by signal \(number)"
        }
    }

    init(waitStatus: Int32) {
        let signal = waitStatus & 0x7f
        self = signal == 0 ? .exited((waitStatus >> 8) & 0xff) : .signaled(signal)
    }
}

/// Starting, probing and stopping local processes by pid, whether or not this process started
/// them (`lattice down` stops what an earlier `lattice up` started).
public enum ChildProcess {
    /// Starts `executable` in its own process group (a terminal's Ctrl-C for the launcher does not
    /// reach it), stdin from /dev/null, stdout and stderr appended to the given files.
    public static func spawn(
        executable: String, arguments: [String], environment: [String: String],
        stdoutPath: String, stderrPath: String
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with no blocked signals and default actions for the ones it handles,
        // whatever the launcher ignores or blocks.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGTERM, SIGINT, SIGPIPE, SIGHUP] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw LocalClusterError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// Whether `pid` is a live (not zombie) process; with `executableName`, also whether it is
    /// still that program, so a recycled pid from a stale state file is not taken for ours.
    public static func isRunning(_ pid: pid_t, executableName: String? = nil) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        #if os(Linux)
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")"),
           stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z") {
            return false
        }
        if let executableName, let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") {
            let program = cmdline.split(separator: 0).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            return (program as NSString).lastPathComponent == executableName
        }
        #endif
        return true
    }

    /// Collects the exit status if `pid` is a child of this process that has ended.
    public static func reap(_ pid: pid_t) -> ExitStatus? {
        if case .ended(let status) = poll(pid) { return status }
        return nil
    }

    enum ChildState { case ended(ExitStatus), running, notOurChild }

    /// `waitpid` without blocking. Only `waitpid` tells when a child has really ended: while
    /// its other threads wind down, /proc already shows its main thread as a zombie.
    static func poll(_ pid: pid_t) -> ChildState {
        // waitpid and kill read 0 and -1 as "any child" and "every process": never pass them on.
        guard pid > 0 else { return .notOurChild }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return .ended(ExitStatus(waitStatus: status)) }
        return result == 0 ? .running : .notOurChild
    }

    /// SIGTERM, wait up to `timeout` for it to end, then SIGKILL. Returns the exit status when
    /// `pid` is our child (nil otherwise) and whether SIGKILL was needed.
    public static func stop(_ pid: pid_t, executableName: String? = nil, timeout: Duration) async -> (status: ExitStatus?, killed: Bool) {
        switch poll(pid) {
        case .ended(let status): return (status, false)
        case .running: break
        case .notOurChild: guard isRunning(pid, executableName: executableName) else { return (nil, false) }
        }
        guard pid > 0 else { return (nil, false) }
        kill(pid, SIGTERM)
        if let end = await waitForExit(pid, timeout: timeout) { return (end.status, false) }
        kill(pid, SIGKILL)
        let end = await waitForExit(pid, timeout: .seconds(5))
        return (end?.status, true)
    }

    /// The end of a process: its exit status when it was our child, else nil.
    public struct End: Sendable { public let status: ExitStatus? }

    /// Polls until `pid` ends; nil on timeout.
    public static func waitForExit(_ pid: pid_t, timeout: Duration) async -> End? {
        let deadline = ContinuousClock.now + timeout
        while true {
            switch poll(pid) {
            case .ended(let status): return End(status: status)
            case .running: break
            case .notOurChild: if !isRunning(pid) { return End(status: nil) }
            }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The last `lines` lines of a log file, for error messages.
    public static func tail(_ path: String, lines: Int = 20) -> String {
        guard let text = TextFile.read(path) else { return "(no log at \(path))" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// Something went wrong starting, finding or stopping local services; the message says what to do.
public struct LocalClusterError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
