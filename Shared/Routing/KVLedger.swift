/// KV room promised to requests, per node, in token×layer entries. Reserve on admit, release on
/// finish, cancel or failure. Generic so that live workers (by id) and simulated nodes (by
/// index) keep their books the same way.
public struct KVLedger<Request: Hashable & Sendable, Node: Hashable & Sendable>: Sendable {
    public private(set) var reservedByNode: [Node: Double] = [:]
    public private(set) var reservations: [Request: [Node: Double]] = [:]

    public init() {}

    public func reserved(on node: Node) -> Double { reservedByNode[node] ?? 0 }

    /// Records a request's reservation on each hop; a request reserves once (a second call is refused).
    @discardableResult
    public mutating func reserve(_ request: Request, _ entries: [Node: Double]) -> Bool {
        guard reservations[request] == nil else { return false }
        reservations[request] = entries
        for (node, count) in entries { reservedByNode[node, default: 0] += count }
        return true
    }

    /// Frees everything the request holds; returns the nodes it held room on.
    @discardableResult
    public mutating func release(_ request: Request) -> [Node] {
        guard let entries = reservations.removeValue(forKey: request) else { return [] }
        for (node, count) in entries {
            let left = (reservedByNode[node] ?? 0) - count
            reservedByNode[node] = left > 1e-9 ? left : nil
        }
        return Array(entries.keys)
    }

    /// Requests holding room on `node`.
    public func requests(on node: Node) -> [Request] {
        reservations.filter { $0.value[node] != nil }.map(\.key)
    }
}
