/// A circuit as a DAG: gates are nodes, each qubit wire links a gate to the next gate on that wire.
/// Removals, angle changes and replacements of convex regions are local (no renumbering);
/// `circuit()` writes the gates back out in a topological order.
public struct CircuitDAG: Sendable {
    public struct Node: Sendable {
        public var gate: Gate
        /// Per port (same order as `gate.qubits`): the neighbouring node on that wire, or -1.
        public var prev: [Int]
        public var next: [Int]
        public var alive: Bool
    }

    public private(set) var nodes: [Node] = []
    public private(set) var head: [Int]
    public private(set) var tail: [Int]
    public private(set) var liveCount = 0
    let template: Circuit

    public init(_ c: Circuit) {
        template = c.withGates([])
        let n = c.qubitCount
        head = [Int](repeating: -1, count: n)
        tail = head
        nodes.reserveCapacity(c.gates.count)
        for g in c.gates { append(g) }
    }

    public var qubitCount: Int { head.count }

    /// Adds a gate at the end of the circuit.
    @discardableResult
    public mutating func append(_ g: Gate) -> Int {
        let id = nodes.count
        var prev = [Int](repeating: -1, count: g.qubits.count)
        for (p, q) in g.qubits.enumerated() {
            let t = tail[q]
            prev[p] = t
            if t >= 0 { nodes[t].next[port(of: q, in: t)] = id } else { head[q] = id }
            tail[q] = id
        }
        nodes.append(Node(gate: g, prev: prev, next: [Int](repeating: -1, count: g.qubits.count), alive: true))
        liveCount += 1
        return id
    }

    @inline(__always) public func port(of q: Int, in id: Int) -> Int {
        let qs = nodes[id].gate.qubits
        for i in 0..<qs.count where qs[i] == q { return i }
        return -1
    }

    /// The next gate after `id` on wire `q`, or -1.
    @inline(__always) public func next(_ id: Int, on q: Int) -> Int { nodes[id].next[port(of: q, in: id)] }
    @inline(__always) public func prev(_ id: Int, on q: Int) -> Int { nodes[id].prev[port(of: q, in: id)] }

    public func gate(_ id: Int) -> Gate { nodes[id].gate }
    public func isAlive(_ id: Int) -> Bool { id >= 0 && id < nodes.count && nodes[id].alive }

    public mutating func setParams(_ id: Int, _ params: [Angle]) { nodes[id].gate.params = params }

    /// Swaps the two qubits of a two-qubit gate (e.g. a cx whose control and target trade places).
    public mutating func reverseQubits(_ id: Int) {
        nodes[id].gate.qubits.reverse()
        nodes[id].prev.reverse()
        nodes[id].next.reverse()
    }

    /// Removes a gate, joining its neighbours on every wire.
    public mutating func remove(_ id: Int) {
        guard nodes[id].alive else { return }
        let node = nodes[id]
        for (p, q) in node.gate.qubits.enumerated() {
            let a = node.prev[p], b = node.next[p]
            if a >= 0 { nodes[a].next[port(of: q, in: a)] = b } else { head[q] = b }
            if b >= 0 { nodes[b].prev[port(of: q, in: b)] = a } else { tail[q] = a }
        }
        nodes[id].alive = false
        liveCount -= 1
    }

    /// Inserts a gate on wires where `before` is -1 or the gate directly after the new one on each of its wires,
    /// given per qubit of `g` as `after[i]` (the node before, or -1 for the wire's start).
    @discardableResult
    public mutating func insert(_ g: Gate, after: [Int]) -> Int {
        let id = nodes.count
        var prev = after
        var next = [Int](repeating: -1, count: g.qubits.count)
        for (p, q) in g.qubits.enumerated() {
            let a = after[p]
            let b = a >= 0 ? self.next(a, on: q) : head[q]
            prev[p] = a
            next[p] = b
        }
        nodes.append(Node(gate: g, prev: prev, next: next, alive: true))
        for (p, q) in g.qubits.enumerated() {
            let a = prev[p], b = next[p]
            if a >= 0 { nodes[a].next[port(of: q, in: a)] = id } else { head[q] = id }
            if b >= 0 { nodes[b].prev[port(of: q, in: b)] = id } else { tail[q] = id }
        }
        liveCount += 1
        return id
    }

    /// Replaces a convex set of nodes by a gate sequence on the same wires.
    /// The caller guarantees convexity (no path leaves the region and re-enters it).
    @discardableResult
    public mutating func replace(_ region: [Int], with gates: [Gate]) -> [Int] {
        let inRegion = Set(region)
        // The gate just before the region on each wire it touches.
        var before: [Int: Int] = [:]
        for id in region {
            for (p, q) in nodes[id].gate.qubits.enumerated() where !inRegion.contains(nodes[id].prev[p]) {
                before[q] = nodes[id].prev[p]
            }
        }
        for id in region { remove(id) }
        var last = before
        var created: [Int] = []
        for g in gates {
            let after = g.qubits.map { q -> Int in last[q] ?? (tail[q]) }
            let id = insert(g, after: after)
            for q in g.qubits { last[q] = id }
            created.append(id)
        }
        return created
    }

    /// Live node ids in a topological order (stable: earlier ids first among ready gates).
    public func topologicalOrder() -> [Int] {
        var indegree = [Int32](repeating: 0, count: nodes.count)
        var ready: [Int] = []
        ready.reserveCapacity(liveCount)
        var queued = [Bool](repeating: false, count: nodes.count)
        for (id, n) in nodes.enumerated() where n.alive {
            var d: Int32 = 0
            for p in n.prev where p >= 0 { d += 1 }
            indegree[id] = d
        }
        for q in 0..<head.count where head[q] >= 0 {
            let h = head[q]
            if indegree[h] == 0 && !queued[h] { queued[h] = true; ready.append(h) }
        }
        // Nodes on no wire (empty barriers) are ready from the start.
        for (id, n) in nodes.enumerated() where n.alive && n.gate.qubits.isEmpty { ready.append(id) }
        var order: [Int] = []
        order.reserveCapacity(liveCount)
        var i = 0
        var taken = [Bool](repeating: false, count: nodes.count)
        while i < ready.count {
            let id = ready[i]
            i += 1
            if taken[id] { continue }
            taken[id] = true
            order.append(id)
            for s in nodes[id].next where s >= 0 {
                indegree[s] -= 1
                if indegree[s] == 0 { ready.append(s) }
            }
        }
        return order
    }

    public func circuit() -> Circuit {
        template.withGates(topologicalOrder().map { nodes[$0].gate })
    }

    /// Drops dead nodes and renumbers (invalidates node ids held by callers).
    public func compacted() -> CircuitDAG { CircuitDAG(circuit()) }
}
