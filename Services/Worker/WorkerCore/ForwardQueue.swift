import Foundation

/// A Forward slice admitted by the stage, with its stage id and whatever the caller needs to
/// send its output on (the service keeps its wire item there).
public struct AcceptedSlice<Tag: Sendable>: Sendable {
    public var slice: ForwardSlice
    public var id: UInt64
    public var tag: Tag
}

/// Admitted slices waiting for a batch, oldest first.
final class ForwardQueue<Tag: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [AcceptedSlice<Tag>] = []

    var requestIDs: [String] { lock.withLock { items.map(\.slice.requestID) } }

    func append(_ new: [AcceptedSlice<Tag>]) {
        lock.withLock { items += new }
    }

    /// Oldest items up to `maxTokens` tokens, and at least one, so a long prompt is never stuck.
    func take(maxTokens: Int) -> [AcceptedSlice<Tag>] {
        lock.withLock {
            var taken = 0, tokens = 0
            while taken < items.count, taken == 0 || tokens + items[taken].slice.tokenCount <= maxTokens {
                tokens += items[taken].slice.tokenCount
                taken += 1
            }
            let batch = Array(items.prefix(taken))
            items.removeFirst(taken)
            return batch
        }
    }
}
