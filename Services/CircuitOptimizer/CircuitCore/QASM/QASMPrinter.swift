/// Writes a circuit as OpenQASM 2.0 text that `QASMParser` reads back to the same circuit.
public enum QASMPrinter {
    public static func print(_ c: Circuit) -> String {
        var names: [String] = []
        names.reserveCapacity(c.qubitCount)
        for r in c.qregs { for i in 0..<r.size { names.append("\(r.name)[\(i)]") } }
        var cnames: [String] = []
        for r in c.cregs { for i in 0..<r.size { cnames.append("\(r.name)[\(i)]") } }
        var out = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n"
        for r in c.qregs { out += "qreg \(r.name)[\(r.size)];\n" }
        for r in c.cregs { out += "creg \(r.name)[\(r.size)];\n" }
        for g in c.gates {
            switch g.kind {
            case .measure:
                out += "measure \(names[g.qubits[0]]) -> \(cnames[g.cbits[0]]);\n"
            case .barrier:
                let qs = g.qubits.isEmpty ? Array(0..<c.qubitCount) : g.qubits
                out += "barrier " + qs.map { names[$0] }.joined(separator: ",") + ";\n"
            default:
                out += g.kind.name
                if !g.params.isEmpty { out += "(" + g.params.map(\.description).joined(separator: ",") + ")" }
                out += " " + g.qubits.map { names[$0] }.joined(separator: ",") + ";\n"
            }
        }
        return out
    }
}
