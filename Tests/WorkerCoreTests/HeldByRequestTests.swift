import Testing
import WorkerCore

@Suite struct HeldByRequestTests {
    /// Reserves and admits at once, as a Forward whose value needs no window before admission.
    private func keep<Value>(_ book: HeldByRequest<Value>, _ entries: [(id: String, value: Value)], isHeld: () -> Set<String>) {
        book.reserve(entries)
        book.admit(entries.map(\.id), isHeld: isHeld)
    }

    /// The interleaving that lost live routes: while one Forward's check reads the held requests,
    /// another Forward admits its request and keeps its route. The snapshot lacks that request,
    /// and its route must survive the check all the same; a request released long ago goes.
    @Test func aValueKeptDuringACheckSurvivesIt() {
        let book = HeldByRequest<Int>(pruneAbove: 2)
        keep(book, [("a", 1)], isHeld: { ["a"] })
        keep(book, [("gone", 2)], isHeld: { ["a", "gone"] })
        var snapshots = 0
        keep(book, [("c", 3)], isHeld: {
            snapshots += 1
            let before: Set<String> = ["a", "c"]   // read before "late" was admitted
            keep(book, [("late", 4)], isHeld: { ["a", "c", "late"] })
            return before
        })
        #expect(snapshots == 1)
        #expect(book.value("late") == 4)
        #expect(book.value("a") == 1 && book.value("c") == 3)
        #expect(book.value("gone") == nil)
        #expect(book.count == 3)
    }

    /// A value is reserved before its request is admitted (its first step may loop back at once):
    /// a check running meanwhile, whose snapshot cannot name that request yet, must keep it.
    @Test func aReservedValueSurvivesAChecksSnapshotTakenBeforeItsAdmission() {
        let book = HeldByRequest<Int>(pruneAbove: 2)
        book.reserve([("pending", 9)])
        keep(book, [("a", 1), ("b", 2)], isHeld: { ["a", "b"] })   // 3 values > 2: a check
        #expect(book.value("pending") == 9)
        book.admit(["pending"], isHeld: { ["a", "b", "pending"] })
        #expect(book.value("pending") == 9 && book.count == 3)
    }

    /// After a check the bound is twice what remained, so a stage holding many live requests is
    /// not scanned again on every Forward; past the new bound, stale values go.
    @Test func checksAreSpacedByWhatRemains() {
        let book = HeldByRequest<Int>(pruneAbove: 2)
        var checks = 0
        var held: Set<String> = []
        for i in 0..<3 {
            held.insert("r\(i)")
            keep(book, [("r\(i)", i)], isHeld: { checks += 1; return held })
        }
        #expect(checks == 1 && book.count == 3)   // the third exceeded 2; all three are held
        for i in 3..<6 { keep(book, [("r\(i)", i)], isHeld: { checks += 1; return held }) }   // up to 6 = 2 x 3: no check
        #expect(checks == 1 && book.count == 6)
        keep(book, [("r6", 6)], isHeld: { checks += 1; return held.union(["r6"]) })
        #expect(checks == 2)
        #expect(book.count == 4)   // r0, r1, r2 held, r6 new; r3...r5 were never held
        #expect(book.value("r4") == nil && book.value("r6") == 6)
    }

    @Test func forgetDropsAValue() {
        let book = HeldByRequest<String>()
        keep(book, [("a", "route"), ("b", "other")], isHeld: { [] })
        book.forget(["a"])
        #expect(book.value("a") == nil && book.value("b") == "other")
    }
}
