import Transport

/// The most wall-clock time one request may ask a service for. A request over it is refused
/// with RESOURCE_EXHAUSTED that names the cap, never silently cut to it.
public struct BudgetCap: Sendable {
    public var maxSeconds: Double
    public var flag: String

    public init(maxSeconds: Double, flag: String) {
        self.maxSeconds = maxSeconds
        self.flag = flag
    }

    /// Throws when `requested` (seconds) is over the cap.
    public func check(_ requested: Double, field: String) throws {
        guard requested <= maxSeconds else {
            throw Status(.resourceExhausted, "\(field): \(requested) s is over the \(maxSeconds) s one request may use on this service (\(flag)); ask for at most \(maxSeconds) s")
        }
    }
}
