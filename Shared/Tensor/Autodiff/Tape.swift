/// A value recorded on a `Tape`: its index there.
public struct Variable: Hashable, Sendable {
    public let id: Int
}

/// Reverse-mode automatic differentiation: every op appends its result and a closure that turns the
/// gradient of the result into gradients of its inputs; `backward` replays the closures newest first.
/// Only values that depend on a parameter carry gradients, so constants (features, masks) cost nothing.
/// A tape is used by one thread for one forward and backward pass, then dropped.
public final class Tape {
    public private(set) var values: [Tensor] = []
    private var needsGradient: [Bool] = []
    private var pullbacks: [((Tensor, Tape) -> Void)?] = []
    private var gradients: [Tensor?] = []
    private var parameterNames: [Int: String] = [:]

    public init() {}

    public func value(_ v: Variable) -> Tensor { values[v.id] }
    public func needs(_ v: Variable) -> Bool { needsGradient[v.id] }

    /// A value that gradients do not flow into.
    public func constant(_ t: Tensor) -> Variable { append(t, needs: false, pullback: nil) }

    /// The parameter `name` of `store` as a leaf whose gradient `parameterGradients` returns.
    public func parameter(_ name: String, in store: ParameterStore) -> Variable {
        guard let t = store[name] else { preconditionFailure("parameter \(name) is not in the store") }
        let v = append(t, needs: true, pullback: nil)
        parameterNames[v.id] = name
        return v
    }

    /// Records an op's result; `pullback` runs only when one of `inputs` needs a gradient.
    public func record(_ result: Tensor, inputs: [Variable], pullback: @escaping (Tensor, Tape) -> Void) -> Variable {
        let needs = inputs.contains { needsGradient[$0.id] }
        return append(result, needs: needs, pullback: needs ? pullback : nil)
    }

    private func append(_ t: Tensor, needs: Bool, pullback: ((Tensor, Tape) -> Void)?) -> Variable {
        values.append(t)
        needsGradient.append(needs)
        pullbacks.append(pullback)
        gradients.append(nil)
        return Variable(id: values.count - 1)
    }

    /// Adds `g` to the gradient of `v` (ignored when `v` needs none).
    public func accumulate(_ v: Variable, _ g: Tensor) {
        guard needsGradient[v.id] else { return }
        precondition(g.count == values[v.id].count, "gradient of \(g.shape) for a value of \(values[v.id].shape)")
        if let old = gradients[v.id] { gradients[v.id] = old + g.reshaped(old.shape) } else { gradients[v.id] = g.reshaped(values[v.id].shape) }
    }

    /// Back-propagates from a scalar (one-element) loss.
    public func backward(from loss: Variable) {
        precondition(values[loss.id].count == 1, "backward needs a scalar loss, got \(values[loss.id].shape)")
        accumulate(loss, Tensor(shape: values[loss.id].shape, repeating: 1))
        for id in stride(from: loss.id, through: 0, by: -1) {
            guard let g = gradients[id], let pullback = pullbacks[id] else { continue }
            pullback(g, self)
        }
    }

    public func gradient(_ v: Variable) -> Tensor? { gradients[v.id] }

    /// Gradients of the store's parameters used on this tape (summed when one was used twice).
    public func parameterGradients() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (id, name) in parameterNames {
            guard let g = gradients[id] else { continue }
            if let old = out[name] { out[name] = old + g } else { out[name] = g }
        }
        return out
    }
}
