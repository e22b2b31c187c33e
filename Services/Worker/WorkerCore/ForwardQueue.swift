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

    /// Oldest items up to `maxTokens` tokens (at least one unless `maxTokens` is 0, so that no
    /// item is stuck), and apart from them every item longer than `longerThan`: those are
    /// prefilled in chunks.
    func take(maxTokens: Int, longerThan limit: Int) -> (batch: [AcceptedSlice<Tag>], long: [AcceptedSlice<Tag>]) {
        lock.withLock {
            var batch: [AcceptedSlice<Tag>] = [], long: [AcceptedSlice<Tag>] = [], rest: [AcceptedSlice<Tag>] = []
            var tokens = 0
            for item in items {
                let n = item.slice.tokenCount
                if n > limit {
                    long.append(item)
                } else if rest.isEmpty, (batch.isEmpty && maxTokens > 0) || tokens + n <= maxTokens {
                    batch.append(item)
                    tokens += n
                } else {
                    rest.append(item)
                }
            }
            items = rest
            return (batch, long)
        }
    }
}
