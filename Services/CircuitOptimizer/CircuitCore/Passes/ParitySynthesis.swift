/// Builds a {cx, rz, x} circuit for a `CNOTDihedral` function: a cx network that brings every term's parity
/// onto some wire (where its rz goes), found by Gray-code-like splitting of the terms (after Amy, Azimzadeh
/// and Mosca's GraySynth), then a Gaussian-elimination cx tail that leaves each wire on its output parity,
/// then the x gates of the constant bits. Returns nil if it cannot (never expected; the caller also re-checks).
enum ParitySynthesis {
    static func synthesize(_ f: CNOTDihedral) -> [Gate]? {
        let n = f.outputs.count
        var out: [Gate] = []
        // wires[k]: wire k's current parity over the inputs. coords[t]: term t in the basis of the wires
        // (bit k set: wire k is in the sum), kept up to date as cx gates are added.
        var wires = (0..<n).map { UInt64(1) << UInt64($0) }
        let order = f.terms.keys.sorted()
        var coords = order
        var done = Array(repeating: false, count: order.count)

        func place(_ t: Int) {
            let k = coords[t].trailingZeroBitCount
            out.append(.rz(k, f.terms[order[t]]!))
            done[t] = true
        }
        func placeReady() {
            for t in order.indices where !done[t] && coords[t].nonzeroBitCount == 1 { place(t) }
        }
        // cx(j, i): wire i gains wire j's parity, so in every term's coordinates row j gains row i.
        func cx(_ j: Int, _ i: Int) {
            out.append(.cx(j, i))
            wires[i] ^= wires[j]
            for t in order.indices where !done[t] && coords[t] >> UInt64(i) & 1 == 1 { coords[t] ^= UInt64(1) << UInt64(j) }
            placeReady()
        }
        func has(_ t: Int, _ row: Int) -> Bool { coords[t] >> UInt64(row) & 1 == 1 }

        placeReady()
        var rounds = 0
        while done.contains(false) {
            rounds += 1
            guard rounds <= 4 else { return nil }
            var stack: [(terms: [Int], rows: [Int], target: Int?)] = [(order.indices.filter { !done[$0] }, Array(0..<n), nil)]
            while let (terms, rows, target) = stack.popLast() {
                var s = terms.filter { !done[$0] }
                if s.isEmpty { continue }
                // A target wire that every term still contains: fold into it each other wire they all contain.
                if let i = target, s.allSatisfy({ has($0, i) }) {
                    while let j = (0..<n).first(where: { j in j != i && s.allSatisfy { has($0, j) } }) {
                        cx(j, i)
                        s = s.filter { !done[$0] }
                        if s.isEmpty { break }
                    }
                    if s.isEmpty { continue }
                }
                guard !rows.isEmpty else { continue }
                // Split on the row that divides the terms most unevenly.
                let j = rows.max { a, b in
                    let ca = s.filter { has($0, a) }.count, cb = s.filter { has($0, b) }.count
                    return max(ca, s.count - ca) < max(cb, s.count - cb)
                }!
                let rest = rows.filter { $0 != j }
                let ones = s.filter { has($0, j) }, zeros = s.filter { !has($0, j) }
                let valid = target.map { i in s.allSatisfy { has($0, i) } } ?? false
                stack.append((zeros, rest, valid ? target : nil))
                stack.append((ones, rest, valid ? target : j))
            }
        }
        // The tail: row operations taking the wires to the outputs. Solve outputs = T·wires for T (each
        // output a sum of current wires), then build T from the identity by Gaussian elimination.
        guard let tail = linearTail(from: wires, to: f.outputs) else { return nil }
        for (j, i) in tail { out.append(.cx(j, i)); wires[i] ^= wires[j] }
        guard wires == f.outputs else { return nil }
        for k in 0..<n where f.flips[k] { out.append(.x(k)) }
        return out
    }

    /// cx gates (control, target), in order, that turn wire parities `from` into `to`; nil if either is singular.
    static func linearTail(from: [UInt64], to: [UInt64]) -> [(Int, Int)]? {
        let n = from.count
        // Express each target row in the basis `from`: augmented elimination of `from`.
        guard let inverse = invert(from) else { return nil }
        // from = F (rows), to = T·F ⇒ T = to·F⁻¹; row k of T = Σ over bits b of to[k] of row b of F⁻¹.
        var t = (0..<n).map { k -> UInt64 in
            var r: UInt64 = 0
            for b in 0..<n where to[k] >> UInt64(b) & 1 == 1 { r ^= inverse[b] }
            return r
        }
        // Eliminate T to the identity with row operations r_i ^= r_j; applying them in reverse to the wires builds T·F.
        var ops: [(Int, Int)] = []
        for col in 0..<n {
            if t[col] >> UInt64(col) & 1 == 0 {
                guard let p = (col + 1..<n).first(where: { t[$0] >> UInt64(col) & 1 == 1 }) else { return nil }
                t[col] ^= t[p]; ops.append((p, col))
            }
            for r in 0..<n where r != col && t[r] >> UInt64(col) & 1 == 1 { t[r] ^= t[col]; ops.append((col, r)) }
        }
        return ops.reversed()
    }

    /// The inverse of a GF(2) matrix given as rows (row k's bit b = entry (k, b)); nil if singular.
    static func invert(_ m: [UInt64]) -> [UInt64]? {
        let n = m.count
        var a = m
        var inv = (0..<n).map { UInt64(1) << UInt64($0) }
        for col in 0..<n {
            guard let p = (col..<n).first(where: { a[$0] >> UInt64(col) & 1 == 1 }) else { return nil }
            a.swapAt(col, p); inv.swapAt(col, p)
            for r in 0..<n where r != col && a[r] >> UInt64(col) & 1 == 1 { a[r] ^= a[col]; inv[r] ^= inv[col] }
        }
        return inv
    }
}
