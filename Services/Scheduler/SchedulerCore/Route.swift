import Routing

/// One stage of a live request's route: the worker, where to reach it, and the layers it runs.
public struct Hop: Sendable, Equatable {
    public var workerID: String
    public var address: String
    public var layers: Range<Int>

    public init(workerID: String, address: String, layers: Range<Int>) {
        self.workerID = workerID
        self.address = address
        self.layers = layers
    }
}

/// A live route as the scheduler keeps it: the hops it sends to, and the routing core's route
/// (its arcs, charged per decode step) for the plan epoch it was built under.
struct LiveRoute: Sendable {
    var hops: [Hop]
    var path: Route
    var epoch: UInt64
}
