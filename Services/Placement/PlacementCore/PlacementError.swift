/// A problem with the caller's input, worded so that the caller can fix it:
/// which file, which section, which field, what is wrong.
public struct PlacementError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String?
    public var section: String?
    public var field: String?
    public var message: String

    public init(file: String? = nil, section: String? = nil, field: String? = nil, _ message: String) {
        self.file = file
        self.section = section
        self.field = field
        self.message = message
    }

    public var description: String {
        var place: [String] = []
        if let file { place.append(file) }
        if let section { place.append("[\(section)]") }
        if let field { place.append("field '\(field)'") }
        return place.isEmpty ? message : place.joined(separator: " ") + ": " + message
    }

    func inFile(_ file: String) -> PlacementError {
        var copy = self
        if copy.file == nil { copy.file = file }
        return copy
    }
}
