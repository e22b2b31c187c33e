/// Dinic's max-flow on real capacities, with the flow on every arc afterwards.
/// Small and allocation-light: it runs millions of times inside the placement search.
public struct FlowNetwork: Sendable {
    var head: [Int32]
    var to: [Int32] = []
    var next: [Int32] = []
    var cap: [Double] = []
    var original: [Double] = []

    public init(vertexCount: Int) { head = Array(repeating: -1, count: vertexCount) }

    public var vertexCount: Int { head.count }

    /// Adds u→v with the capacity; returns the arc id (for `flow(onArc:)`).
    @discardableResult
    public mutating func addArc(_ u: Int, _ v: Int, capacity: Double) -> Int {
        let id = to.count
        to.append(Int32(v)); next.append(head[u]); cap.append(capacity); original.append(capacity); head[u] = Int32(id)
        to.append(Int32(u)); next.append(head[v]); cap.append(0); original.append(0); head[v] = Int32(id + 1)
        return id
    }

    public func flow(onArc id: Int) -> Double { original[id] - cap[id] }

    public mutating func maxFlow(from s: Int, to t: Int) -> Double {
        let n = head.count
        var level = [Int32](repeating: -1, count: n)
        var iter = [Int32](repeating: -1, count: n)
        var queue = [Int32](repeating: 0, count: n)
        var total = 0.0
        let eps = 1e-9
        while true {
            for i in 0..<n { level[i] = -1 }
            level[s] = 0
            var qh = 0, qt = 1
            queue[0] = Int32(s)
            while qh < qt {
                let u = Int(queue[qh]); qh += 1
                var e = head[u]
                while e >= 0 {
                    let v = Int(to[Int(e)])
                    if cap[Int(e)] > eps && level[v] < 0 {
                        level[v] = level[u] + 1
                        queue[qt] = Int32(v); qt += 1
                    }
                    e = next[Int(e)]
                }
            }
            if level[t] < 0 { break }
            for i in 0..<n { iter[i] = head[i] }
            while true {
                let pushed = augment(s, t, .infinity, &level, &iter, eps)
                if pushed <= eps { break }
                total += pushed
            }
        }
        return total
    }

    private mutating func augment(_ u: Int, _ t: Int, _ limit: Double, _ level: inout [Int32], _ iter: inout [Int32], _ eps: Double) -> Double {
        if u == t { return limit }
        while iter[u] >= 0 {
            let e = Int(iter[u])
            let v = Int(to[e])
            if cap[e] > eps && level[v] == level[u] + 1 {
                let pushed = augment(v, t, min(limit, cap[e]), &level, &iter, eps)
                if pushed > eps {
                    cap[e] -= pushed
                    cap[e ^ 1] += pushed
                    return pushed
                }
            }
            iter[u] = next[e]
        }
        return 0
    }
}
