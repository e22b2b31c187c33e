/// Named trainable tensors in a fixed order (the order a checkpoint writes them in).
public struct ParameterStore: Sendable, Equatable {
    public private(set) var names: [String] = []
    private var tensors: [String: Tensor] = [:]

    public init() {}

    public subscript(name: String) -> Tensor? { tensors[name] }

    /// Adds a parameter or replaces the value of an existing one (the shape must stay the same).
    public mutating func set(_ name: String, _ t: Tensor) {
        if let old = tensors[name] {
            precondition(old.shape == t.shape, "parameter \(name): shape \(t.shape) replaces \(old.shape)")
        } else {
            names.append(name)
        }
        tensors[name] = t
    }

    public var scalarCount: Int { tensors.values.reduce(0) { $0 + $1.count } }
}
