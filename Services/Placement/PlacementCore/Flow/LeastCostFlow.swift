extension FlowNetwork {
    /// The maximum flow from `s` to `t` of least total cost Σ flow × cost, by successive shortest
    /// paths: each round pushes along the cheapest path of the residual network (Bellman-Ford
    /// queue, as reverse arcs cost minus their arc), until no path is left. `cost[id / 2]` is the
    /// cost of the arc `addArc` returned `id` for. Starts from zero flow; the network must be
    /// fresh. Slower than `maxFlow` (a shortest-path search per path instead of a level graph):
    /// it is for choosing the one flow that is routed, not for scoring candidates.
    public mutating func leastCostMaxFlow(from s: Int, to t: Int, cost: [Double]) -> Double {
        let n = head.count
        let eps = 1e-9
        func arcCost(_ e: Int) -> Double { e & 1 == 0 ? cost[e / 2] : -cost[e / 2] }
        var total = 0.0
        var dist = [Double](repeating: .infinity, count: n)
        var via = [Int32](repeating: -1, count: n)
        var queued = [Bool](repeating: false, count: n)
        var relaxed = [Int](repeating: 0, count: n)
        while true {
            for i in 0..<n { dist[i] = .infinity; via[i] = -1; queued[i] = false; relaxed[i] = 0 }
            dist[s] = 0
            var queue = [s]
            var qh = 0
            queued[s] = true
            while qh < queue.count {
                let u = queue[qh]; qh += 1
                queued[u] = false
                // A vertex improved more than n times sits on a cycle of negative cost, which only
                // rounding can make here: stop improving it rather than loop.
                relaxed[u] += 1
                guard relaxed[u] <= n else { continue }
                var e = head[u]
                while e >= 0 {
                    let arc = Int(e)
                    let v = Int(to[arc])
                    if cap[arc] > eps {
                        let d = dist[u] + arcCost(arc)
                        if d < dist[v] - 1e-15 * max(1, abs(d)) {
                            dist[v] = d
                            via[v] = e
                            if !queued[v] { queued[v] = true; queue.append(v) }
                        }
                    }
                    e = next[arc]
                }
            }
            guard dist[t].isFinite else { break }
            var push = Double.infinity
            var v = t, hops = 0
            while v != s, hops <= n {
                let arc = Int(via[v])
                push = min(push, cap[arc])
                v = Int(to[arc ^ 1])
                hops += 1
            }
            // A path longer than n vertices is a rounding cycle, not a path: stop there.
            guard v == s, push > eps else { break }
            v = t
            while v != s {
                let arc = Int(via[v])
                cap[arc] -= push
                cap[arc ^ 1] += push
                v = Int(to[arc ^ 1])
            }
            total += push
        }
        return total
    }
}
