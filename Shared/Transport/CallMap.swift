/// Values by call id, for a client's calls in flight: a ring of slots indexed by the id's low
/// bits, with a dictionary for the rare id whose slot is taken. A connection's ids count up, so
/// the calls in flight together almost always have slots of their own, and a call costs no
/// hashing (which a plain dictionary pays on every insert, lookup and removal).
struct CallMap<Value> {
    /// A struct, not a tuple: an optional tuple's copies and checks go through the runtime's
    /// generic tuple witnesses on every call (seen in perf on the server's hot path).
    private struct Slot {
        let id: UInt64
        var value: Value
    }
    private var slots: [Slot?]
    private var overflow: [UInt64: Value] = [:]
    private(set) var count = 0

    init() { slots = Array(repeating: nil, count: 64) }

    var isEmpty: Bool { count == 0 }

    private func slot(_ id: UInt64) -> Int { Int(truncatingIfNeeded: id) & (slots.count - 1) }

    subscript(id: UInt64) -> Value? {
        let index = slot(id)
        if slots[index]?.id == id { return slots[index]?.value }
        return overflow.isEmpty ? nil : overflow[id]
    }

    /// Whether `id` has a value (without copying it).
    func contains(_ id: UInt64) -> Bool {
        slots[slot(id)]?.id == id || (!overflow.isEmpty && overflow[id] != nil)
    }

    /// Adds `value` for `id`, replacing any value it had. (Slots are looked at by id, never
    /// copied out: a copy of a value costs a retain and a release per reference in it, on
    /// every call.)
    mutating func insert(_ id: UInt64, _ value: Value) {
        if count >= slots.count / 2 { grow() }
        let index = slot(id)
        if slots[index] != nil {
            if slots[index]?.id == id { slots[index] = Slot(id: id, value: value); return }
        } else if overflow.isEmpty || overflow[id] == nil {
            slots[index] = Slot(id: id, value: value)
            count += 1
            return
        }
        if overflow.updateValue(value, forKey: id) == nil { count += 1 }
    }

    /// Adds `value` for `id` unless `id` has a value already (then false, and nothing changes).
    /// One mutating call: a `contains` on a map stored in a class copied the map (a retain and a
    /// release of its slots and of its overflow dictionary, per call in uprobes).
    mutating func insertNew(_ id: UInt64, _ value: Value) -> Bool {
        guard !contains(id) else { return false }
        insert(id, value)
        return true
    }

    /// Changes the value of `id` in place; nil (and `change` not run) if there is none.
    @discardableResult
    mutating func update<R>(_ id: UInt64, _ change: (inout Value) -> R) -> R? {
        let index = slot(id)
        if slots[index]?.id == id { return change(&slots[index]!.value) }
        guard !overflow.isEmpty, overflow[id] != nil else { return nil }
        return change(&overflow[id]!)
    }

    @discardableResult
    mutating func removeValue(forKey id: UInt64) -> Value? {
        let index = slot(id)
        if slots[index]?.id == id, let entry = slots[index].take() {   // moved out, not copied
            count -= 1
            return entry.value
        }
        guard !overflow.isEmpty, let value = overflow.removeValue(forKey: id) else { return nil }
        count -= 1
        return value
    }

    /// Every id and value (in no particular order).
    var entries: [(id: UInt64, value: Value)] {
        var all: [(id: UInt64, value: Value)] = []
        all.reserveCapacity(count)
        for case let entry? in slots { all.append((entry.id, entry.value)) }
        for (id, value) in overflow { all.append((id, value)) }
        return all
    }

    /// Twice the slots, every value placed again (overflowed ones may find their slot free now).
    private mutating func grow() {
        let all = entries
        slots = Array(repeating: nil, count: slots.count * 2)
        overflow = [:]
        count = 0
        for (id, value) in all { insert(id, value) }
    }
}
