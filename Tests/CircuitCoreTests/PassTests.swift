import Testing
@testable import CircuitCore

@Suite struct PassTests {
    func verified(_ a: Circuit, _ b: Circuit) -> Bool {
        var checker = EquivalenceChecker()
        checker.maxQubits = 26
        checker.maxWork = 1e12
        return checker.check(a, b).isEquivalent
    }

    @Test func benchmarkSweep() throws {
        for name in try FileManagerList.qasmFiles(in: TestData.namDirectory) {
            let c = try TestData.nam(name)
            let clock = ContinuousClock.now
            let out = NamPipeline.run(c, deadline: .never)
            let t = ContinuousClock.now - clock
            let v = c.qubitCount <= 20 ? EquivalenceChecker().check(c, out).description : "-"
            print("SWEEP \(name) \(c.gateCount) -> \(out.gateCount)  \(t) \(v)")
        }
    }
}
