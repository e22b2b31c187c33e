import Foundation

/// The one knob for how long tests wait: suite time limits, polling deadlines and the slack a test
/// allows a slow step are multiplied by `scale`. Instrumented builds run several times slower
/// (scripts/sanitize sets LATTICE_TEST_TIME_SCALE), so only waits and deadlines stretch: what a
/// test asserts about an outcome, a count or a measured ratio never does.
public enum TestTime {
    /// LATTICE_TEST_TIME_SCALE, a whole number ≥ 1; 1 when unset.
    public static let scale: Int = {
        guard let raw = ProcessInfo.processInfo.environment["LATTICE_TEST_TIME_SCALE"], !raw.isEmpty else { return 1 }
        guard let value = Int(raw), value >= 1 else {
            preconditionFailure("LATTICE_TEST_TIME_SCALE=\(raw): expected a whole number ≥ 1 (how many times longer tests may wait)")
        }
        return value
    }()

    /// `minutes` scaled, for `.timeLimit(.minutes(TestTime.minutes(1)))`.
    public static func minutes(_ minutes: Int) -> Int { minutes * scale }

    /// `seconds` scaled.
    public static func seconds(_ seconds: Double) -> Double { seconds * Double(scale) }

    /// `duration` scaled.
    public static func scaled(_ duration: Duration) -> Duration { duration * scale }
}
