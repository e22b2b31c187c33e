import Foundation
import Logging

/// A swift-log handler that writes one line per record to stderr, as text or JSON.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: LogFormat
    private let sink: LineSink

    public init(label: String, format: LogFormat, level: Logger.Level, sink: LineSink = .standardError) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let explicit = event.metadata { all.merge(explicit) { _, new in new } }
        if let error = event.error { all["error"] = "\(error)" }
        let (level, message) = (event.level, event.message)
        let time = Timestamp.now()
        let text: String
        switch format {
        case .text:
            let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            text = "\(time) \(level) \(label): \(message)" + (fields.isEmpty ? "" : " [\(fields)]")
        case .json:
            var object = "{\"ts\":\(JSONText.quote(time)),\"level\":\(JSONText.quote(level.rawValue))"
            object += ",\"label\":\(JSONText.quote(label)),\"msg\":\(JSONText.quote(message.description))"
            for (key, value) in all.sorted(by: { $0.key < $1.key }) where !["ts", "level", "label", "msg"].contains(key) {
                object += ",\(JSONText.quote(key)):\(JSONText.quote(value.description))"
            }
            text = object + "}"
        }
        sink.write(text + "\n")
    }
}

/// Where log lines go; one `write` per line so that lines from many threads never interleave.
public struct LineSink: Sendable {
    private let descriptor: Int32
    public init(descriptor: Int32) { self.descriptor = descriptor }
    public static let standardError = LineSink(descriptor: 2)

    public func write(_ line: String) {
        let bytes = Array(line.utf8)
        bytes.withUnsafeBytes { buffer in
            guard var next = buffer.baseAddress else { return }
            var left = buffer.count
            while left > 0 {
                let written = Foundation.write(descriptor, next, left)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }  // stderr is gone: drop the line rather than fail the service
                next += written
                left -= written
            }
        }
    }
}

/// JSON string literals without Foundation's encoder (one line per record must stay cheap).
enum JSONText {
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// UTC wall-clock time in ISO 8601 with milliseconds.
enum Timestamp {
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(spec.tv_nsec / 1_000_000), 3))Z"
    }
}
