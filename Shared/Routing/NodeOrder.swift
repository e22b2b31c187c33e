/// The one order routing breaks ties in, live and simulated alike: node names compared with
/// their runs of digits as numbers, so that "node-2" comes before "node-10" and "2" before "10".
/// The live scheduler names its nodes by worker id ("node-<i>" for a cluster file's node i) and
/// the simulator by index ("<i>"): under this order both rank node i in the same place.
public enum NodeOrder {
    public static func precedes(_ a: String, _ b: String) -> Bool {
        var x = Array(a.utf8)[...], y = Array(b.utf8)[...]
        while let p = x.first, let q = y.first {
            if isDigit(p) && isDigit(q) {
                let m = x.prefix { isDigit($0) }, n = y.prefix { isDigit($0) }
                x = x.dropFirst(m.count)
                y = y.dropFirst(n.count)
                // Without leading zeros the longer run is the larger number.
                let (u, v) = (m.drop { $0 == zero }, n.drop { $0 == zero })
                if u.count != v.count { return u.count < v.count }
                if !u.elementsEqual(v) { return u.lexicographicallyPrecedes(v) }
                if m.count != n.count { return m.count < n.count }
            } else {
                if p != q { return p < q }
                x = x.dropFirst()
                y = y.dropFirst()
            }
        }
        return x.isEmpty && !y.isEmpty
    }

    private static let zero = UInt8(ascii: "0")
    private static func isDigit(_ c: UInt8) -> Bool { c >= zero && c <= UInt8(ascii: "9") }
}
