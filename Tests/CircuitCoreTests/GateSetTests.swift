import Testing
@testable import CircuitCore

@Suite struct GateSetTests {
    /// Every qelib1 gate, decomposed into Nam, has the same unitary up to phase.
    @Test func namDecompositionsAreExact() throws {
        let a = Angle.radians(0.37), b = Angle.piTimes(3, over: 8), c = Angle.radians(-1.1)
        let gates: [Gate] = [
            .h(0), .x(0), Gate(.y, [0]), Gate(.z, [0]), Gate(.s, [0]), Gate(.sdg, [0]), Gate(.t, [0]), Gate(.tdg, [0]),
            Gate(.sx, [0]), Gate(.sxdg, [0]), Gate(.rx, [0], [a]), Gate(.ry, [0], [a]), Gate(.rz, [0], [b]),
            Gate(.u1, [0], [c]), Gate(.u2, [0], [a, c]), Gate(.u3, [0], [a, b, c]), Gate(.u3, [0], [.zero, b, c]),
            Gate(.cz, [0, 1]), Gate(.swap, [1, 0]), Gate(.ccz, [0, 2, 1]), Gate(.ccx, [2, 0, 1]),
        ]
        for g in gates {
            let orig = Circuit(qubits: 3, gates: [g])
            for p in [Polarity.positive, .negative] {
                let nam = orig.withGates(Decompose.toNam(g, polarity: p))
                #expect(nam.gates.allSatisfy { GateSet.nam.kinds.contains($0.kind) })
                #expect(EquivalenceChecker().check(orig, nam).isEquivalent, "\(g.kind) \(p)")
            }
        }
    }

    @Test func everyCCZDecompositionIsExact() {
        let ccz = Circuit(qubits: 3, gates: [Gate(.ccz, [0, 1, 2])])
        for o in ToffoliPolarity.orderings {
            for p in [Polarity.positive, .negative] {
                for r in [false, true] {
                    let d = ccz.withGates(Decompose.ccz(o[0], o[1], o[2], p, reversed: r))
                    #expect(EquivalenceChecker().check(ccz, d).isEquivalent, "\(o) \(p) \(r)")
                }
            }
        }
    }

    @Test func everyRelativeCCZDecompositionIsExact() {
        let ccz = Circuit(qubits: 3, gates: [Gate(.ccz, [0, 1, 2])])
        for o in ToffoliPolarity.orderings {
            for p in [Polarity.positive, .negative] {
                for sign in [1, -1] {
                    for r in [false, true] {
                        let d = ccz.withGates(Decompose.relativeCCZ(o[0], o[1], o[2], p, czSign: sign, reversed: r))
                        #expect(EquivalenceChecker().check(ccz, d).isEquivalent, "\(o) \(p) \(sign) \(r)")
                    }
                }
            }
        }
    }

    @Test func cczCountsThirteen() {
        #expect(Decompose.ccz(0, 1, 2).count == 13)
        #expect(Circuit(qubits: 3, gates: [Gate(.ccz, [0, 1, 2])]).gateCount == 13)
    }

    @Test func convertsIntoEveryGateSet() throws {
        let c = try TestData.nam("mod5_4")
        for set in GateSet.allCases {
            let out = try Decompose.convert(c, to: set)
            #expect(out.gates.allSatisfy { set.kinds.contains($0.kind) }, "\(set)")
            #expect(EquivalenceChecker().check(c, out).isEquivalent, "\(set)")
            #expect(try QASMParser.parse(QASMPrinter.print(out)) == out)
        }
    }

    @Test func cliffordTRejectsArbitraryAngles() {
        let c = Circuit(qubits: 1, gates: [.rz(0, .radians(0.3))])
        #expect(throws: GateSetError.self) { try Decompose.convert(c, to: .cliffordT) }
    }
}

@Suite struct CircuitDAGTests {
    @Test func hashIgnoresOrderOfIndependentGates() {
        let a = Circuit(qubits: 3, gates: [.h(0), .x(2), .cx(0, 1), .rz(2, .piTimes(1, over: 4))])
        let b = Circuit(qubits: 3, gates: [.x(2), .rz(2, .piTimes(1, over: 4)), .h(0), .cx(0, 1)])
        let c = Circuit(qubits: 3, gates: [.x(2), .rz(2, .piTimes(1, over: 4)), .cx(0, 1), .h(0)])
        #expect(a.structuralHash == b.structuralHash)
        #expect(a.structuralHash != c.structuralHash)
    }

    @Test func localEditsKeepWiresLinked() {
        var dag = CircuitDAG(Circuit(qubits: 2, gates: [.h(0), .cx(0, 1), .x(1), .h(0)]))
        dag.remove(2)
        #expect(dag.next(1, on: 1) == -1 && dag.tail[1] == 1)
        dag.replace([1], with: [.h(1), .cx(1, 0), .h(1)])
        let out = dag.circuit()
        #expect(out.gates.map(\.kind) == [.h, .h, .cx, .h, .h])
        #expect(dag.liveCount == 5)
        #expect(out.depth == 3 && out.cxCount == 1 && out.gateCount == 5)
    }
}
