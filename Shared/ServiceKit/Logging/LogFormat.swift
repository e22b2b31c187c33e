/// How a service writes its log lines on stderr.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-11-26T14:20:56.123Z info placement: listening [port=40123]`
    case text
    /// One JSON object per line: {"ts":…,"level":…,"label":…,"msg":…, metadata…}
    case json
}
