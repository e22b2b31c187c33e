import Foundation

/// Turns SIGTERM and SIGINT into an awaitable event and ignores SIGPIPE (a peer that goes away
/// mid-write must be an error on that connection, not the end of the process).
///
/// A signal can land on any thread, so the handler only writes the signal number to a pipe
/// (async-signal-safe); a plain thread reads the pipe. A second signal ends the process at once.
final class TerminationSignals: Sendable {
    private let stream: AsyncStream<Int32>

    init(onSecondSignal: @escaping @Sendable (Int32) -> Void) throws {
        signal(SIGPIPE, SIG_IGN)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ConfigError("cannot create the signal pipe: \(String(cString: strerror(errno)))") }
        let (readFD, writeFD) = (fds[0], fds[1])
        signalPipeWriteFD = writeFD
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        self.stream = stream
        let reader = Thread {
            var received = 0
            while true {
                var number: UInt8 = 0
                let count = read(readFD, &number, 1)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return }
                received += 1
                if received == 1 { continuation.yield(Int32(number)) } else { onSecondSignal(Int32(number)) }
            }
        }
        reader.name = "lattice.signals"
        reader.start()
        for number in [SIGTERM, SIGINT] {
            signal(number, forwardSignalToPipe)
        }
    }

    /// Waits for the first SIGTERM or SIGINT and returns its number.
    func first() async -> Int32 {
        for await number in stream { return number }
        return SIGTERM
    }
}

/// Written once before the handlers are installed, then only read (from signal handlers).
nonisolated(unsafe) private var signalPipeWriteFD: Int32 = -1

private func forwardSignalToPipe(_ number: Int32) {
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteFD, &byte, 1)
    errno = saved
}

/// Human name of a termination signal for the log.
func signalName(_ number: Int32) -> String {
    switch number {
    case SIGTERM: "SIGTERM"
    case SIGINT: "SIGINT"
    default: "signal \(number)"
    }
}
