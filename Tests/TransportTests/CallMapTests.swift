import Testing
@testable import Transport

@Suite("Call map")
struct CallMapTests {
    /// Ids that share a slot (64 apart while there are 64 slots), a long-lived call that the
    /// counting ids wrap around, removals, and growth: every value stays findable by its id only.
    @Test func findsEveryValueByIdThroughCollisionsAndGrowth() {
        var map = CallMap<String>()
        var expected: [UInt64: String] = [:]
        func check() {
            #expect(map.count == expected.count)
            #expect(map.isEmpty == expected.isEmpty)
            for (id, value) in expected { #expect(map[id] == value, "id \(id)") }
            #expect(Dictionary(uniqueKeysWithValues: map.entries.map { ($0.id, $0.value) }) == expected)
        }
        for id: UInt64 in [1, 65, 129, 2] { map.insert(id, "v\(id)"); expected[id] = "v\(id)" }   // 1, 65, 129 share a slot
        check()
        #expect(map[193] == nil && map[3] == nil)
        #expect(map.removeValue(forKey: 1) == "v1"); expected[1] = nil   // the slot's owner leaves
        #expect(map.removeValue(forKey: 1) == nil)
        check()
        map.insert(65, "w65"); expected[65] = "w65"   // replaced, wherever it lives
        #expect(map.update(129) { value -> Int in value += "!"; return 7 } == 7); expected[129] = "v129!"
        #expect(map.update(999) { _ in 7 } == nil)
        check()
        for id: UInt64 in 1000..<1300 { map.insert(id, "v\(id)"); expected[id] = "v\(id)" }   // grows several times
        check()
        for id: UInt64 in stride(from: 1000, to: 1300, by: 3) { #expect(map.removeValue(forKey: id) != nil); expected[id] = nil }
        check()
    }

    /// `insertNew` (a server admitting a call id) adds only ids the map does not hold, in their
    /// slot or in the overflow, and leaves the value of one it holds as it was.
    @Test func insertNewRefusesAnIdItHolds() {
        var map = CallMap<String>()
        #expect(map.insertNew(1, "a") && map.insertNew(65, "b"))   // 65 shares 1's slot: overflow
        #expect(!map.insertNew(1, "x") && !map.insertNew(65, "y"))
        #expect(map[1] == "a" && map[65] == "b" && map.count == 2)
        #expect(map.removeValue(forKey: 1) == "a")
        #expect(map.insertNew(1, "c") && map[1] == "c" && map[65] == "b" && map.count == 2)
    }
}
