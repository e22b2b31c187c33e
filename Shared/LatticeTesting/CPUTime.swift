import Foundation

/// CPU time, for limits that must hold on a loaded machine: a piece of work costs about the same
/// CPU time however many processes share the cores, while its wall time stretches with the load.
public enum CPUTime {
    /// Seconds of CPU the calling thread has used.
    public static func thread() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
    }

    /// `body`'s value and the CPU seconds the calling thread spent in it (synchronous work only:
    /// what `body` hands to other threads is not counted).
    public static func measure<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> (value: T, seconds: Double) {
        let start = thread()
        let value = try body()
        return (value, thread() - start)
    }
}
