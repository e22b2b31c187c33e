/// cx-count reduction by resynthesis: cuts the circuit into regions of {cx, rz, x} gates on at most
/// `maxQubits` wires (bounded by h and every other gate), computes each region's function (`CNOTDihedral`),
/// builds a new circuit for it (`ParitySynthesis`) and keeps that circuit only when it has fewer gates and
/// computes the same function (re-derived from the new gates, so every replacement is checked exactly).
public enum DihedralResynthesis {
    /// Returns the circuit with each region replaced where that is smaller; the gate order stays topological.
    public static func run(_ c: Circuit, maxQubits: Int = 10) -> Circuit {
        var remaining = c.gates[...]
        var out: [Gate] = []
        out.reserveCapacity(c.gates.count)
        while let first = remaining.first {
            guard isDihedral(first) else { out.append(first); remaining = remaining.dropFirst(); continue }
            let (region, rest) = grow(remaining, maxQubits: maxQubits)
            out.append(contentsOf: resynthesized(region) ?? region)
            remaining = rest[...]
        }
        return c.withGates(out)
    }

    static func isDihedral(_ g: Gate) -> Bool { g.kind == .cx || g.kind == .rz || g.kind == .x }

    /// The region that starts at the first gate: every later {cx, rz, x} gate whose wires have seen no gate
    /// left out (a gate left out closes its wires), while the region spans at most `maxQubits` wires.
    /// Every gate left out depends on no gate of the region that comes after it, so region-then-rest is
    /// a valid order. Stops once all the region's wires are closed.
    static func grow(_ gates: ArraySlice<Gate>, maxQubits: Int) -> (region: [Gate], rest: [Gate]) {
        var region: [Gate] = [], rest: [Gate] = []
        var inRegion = Set<Int>(), closed = Set<Int>()
        var index = gates.startIndex
        while index < gates.endIndex {
            let g = gates[index]
            if !region.isEmpty && inRegion.isSubset(of: closed) { break }
            // A fence on every wire (a bare barrier) ends the region.
            if g.qubits.isEmpty { break }
            let fits = isDihedral(g) && g.qubits.allSatisfy { !closed.contains($0) }
                && inRegion.union(g.qubits).count <= maxQubits
            if fits {
                region.append(g); inRegion.formUnion(g.qubits)
            } else {
                rest.append(g); closed.formUnion(g.qubits)
            }
            index += 1
        }
        rest.append(contentsOf: gates[index...])
        return (region, rest)
    }

    /// The region's replacement, or nil when it is not smaller.
    static func resynthesized(_ region: [Gate]) -> [Gate]? {
        guard region.count(where: { $0.kind == .cx }) >= 2 else { return nil }
        var wires: [Int] = []
        var local: [Int: Int] = [:]
        for g in region { for q in g.qubits where local[q] == nil { local[q] = wires.count; wires.append(q) } }
        let mapped = region.map { g in Gate(g.kind, g.qubits.map { local[$0]! }, g.params) }
        guard let f = CNOTDihedral(mapped, wires: wires.count) else { return nil }
        // Two builds: forwards, and the inverse's build run backwards (its cx tail lands at the front).
        var candidates: [[Gate]] = []
        if let forwards = ParitySynthesis.synthesize(f) { candidates.append(forwards) }
        if let g = CNOTDihedral(inverse(mapped), wires: wires.count), let backwards = ParitySynthesis.synthesize(g) {
            candidates.append(inverse(backwards))
        }
        guard let new = candidates.filter({ $0.count < region.count }).min(by: { $0.count < $1.count }),
              CNOTDihedral(new, wires: wires.count) == f else { return nil }
        return new.map { g in Gate(g.kind, g.qubits.map { wires[$0] }, g.params) }
    }

    /// The inverse of a {cx, rz, x} circuit: the gates reversed, the rotations negated.
    static func inverse(_ gates: [Gate]) -> [Gate] {
        gates.reversed().map { $0.kind == .rz ? .rz($0.qubits[0], -$0.params[0]) : $0 }
    }
}
