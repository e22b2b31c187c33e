import Transport

extension Endpoint {
    /// Parses a "HOST:PORT" flag or variable; the error names where the text came from.
    public init(parsing text: String, source: String) throws {
        do {
            try self.init(parsing: text)
        } catch let error as EndpointError {
            throw ConfigError("\(source): \(error.message)")
        }
    }
}
