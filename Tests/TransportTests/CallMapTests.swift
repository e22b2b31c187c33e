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
}
