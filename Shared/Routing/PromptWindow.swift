/// Admission that keeps prompts from flooding slow links. A prompt's hidden states cross every
/// link between the nodes of its route, and a link sends one transfer after another: on geo24's
/// 12.5 MB/s cross-region links a 256-token llama2-70b prompt (4 MB) holds a link a third of a
/// second, so a closed loop that admits hundreds of prompts at once queues every decode step
/// behind minutes of prompts. A link is open to another prompt only while the prompts admitted
/// over it that have not yet produced their first token add up to at most `seconds` of its
/// bandwidth; an idle link always takes one, so no prompt waits forever. Reserve on admit,
/// release at the first token or when the request ends. Generic, as `KVLedger`, so that the live
/// scheduler (workers by id) and the simulator (nodes by index) keep the same books.
public struct PromptWindow<Request: Hashable & Sendable, Node: Hashable & Sendable>: Sendable {
    public struct Link: Hashable, Sendable {
        public var from: Node
        public var to: Node
        public init(from: Node, to: Node) {
            self.from = from
            self.to = to
        }
    }

    /// Seconds of a link's bandwidth that admitted prompts may occupy.
    public let seconds: Double
    public private(set) var bytesByLink: [Link: Double] = [:]
    private var held: [Request: [Link: Double]] = [:]

    /// The window live serving and the simulator's closed loop use unless told otherwise: a few
    /// prompts' worth of a 12.5 MB/s link, hundreds of a 1 GB/s one (where it never binds).
    public static var defaultSeconds: Double { 2 }

    public init(seconds: Double) { self.seconds = seconds }

    /// Prompt bytes admitted over the link and not yet through.
    public func bytes(on link: Link) -> Double { bytesByLink[link] ?? 0 }

    /// Whether a prompt of `bytes` may be admitted over a link of `bandwidth` bytes/s now.
    public func admits(_ link: Link, bytes: Double, bandwidth: Double) -> Bool {
        let queued = self.bytes(on: link)
        return queued <= 0 || queued + bytes <= seconds * bandwidth
    }

    /// Records `bytes` of the request's prompt over each link of its route: between each node and
    /// the next (added to what it holds already).
    public mutating func hold(_ request: Request, along route: [Node], bytes: Double) {
        for link in zip(route, route.dropFirst()).map({ Link(from: $0, to: $1) }) {
            held[request, default: [:]][link, default: 0] += bytes
            bytesByLink[link, default: 0] += bytes
        }
    }

    /// Frees what the request holds; true if it held anything (its prompt was still on the way).
    @discardableResult
    public mutating func release(_ request: Request) -> Bool {
        guard let links = held.removeValue(forKey: request) else { return false }
        for (link, bytes) in links {
            let left = (bytesByLink[link] ?? 0) - bytes
            bytesByLink[link] = left > 1e-6 ? left : nil
        }
        return true
    }

    /// Requests whose prompts are still on the way.
    public var promptsInFlight: Int { held.count }
}
