/// One hop of a route: the node and the layers it runs for the request, the KV entries the
/// request reserves there, and the arc (vertex, successor index) that led to it.
public struct RouteStep: Sendable, Equatable {
    public var node: Int
    public var layers: Range<Int>
    public var entries: Double
    public var arc: Arc

    public struct Arc: Sendable, Equatable {
        public var vertex: Int
        public var successor: Int
    }
}

public struct Route: Sendable, Equatable {
    public var steps: [RouteStep]
    public init(steps: [RouteStep]) { self.steps = steps }
    public var nodes: [Int] { steps.map(\.node) }
}

/// Why no route could be built now; the request waits in the admission queue.
public enum RouteRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case noPlan
    case noCandidate(after: String, layer: Int, why: String)

    public var description: String {
        switch self {
        case .noPlan: return "no plan covers the model yet"
        case .noCandidate(let after, let layer, let why): return "no node after \(after) can take layer \(layer) now (\(why))"
        }
    }
}
