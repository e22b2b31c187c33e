import Foundation

/// Cuts text at whole occurrences of special tokens (longest first at each position), before a
/// tokenizer's own splitting: `<|im_start|>` is one token, never `<`, `|`, `im`, ….
struct SpecialTokens: @unchecked Sendable {   // immutable; NSRegularExpression is thread-safe
    enum Segment: Equatable { case text(String), special(Int32) }

    let ids: [String: Int32]
    private let matcher: NSRegularExpression?

    init(_ ids: [String: Int32]) {
        self.ids = ids
        let alternatives = ids.keys.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
            .map { NSRegularExpression.escapedPattern(for: $0) }
        matcher = alternatives.isEmpty ? nil : try? NSRegularExpression(pattern: alternatives.joined(separator: "|"))
    }

    func contains(id: Int32) -> Bool { ids.values.contains(id) }

    func split(_ text: String) -> [Segment] {
        guard let matcher else { return text.isEmpty ? [] : [.text(text)] }
        var segments: [Segment] = []
        var cursor = text.startIndex
        for match in matcher.matches(in: text, range: NSRange(text.startIndex..<text.endIndex, in: text)) {
            guard let range = Range(match.range, in: text), let id = ids[String(text[range])] else { continue }
            if cursor < range.lowerBound { segments.append(.text(String(text[cursor..<range.lowerBound]))) }
            segments.append(.special(id))
            cursor = range.upperBound
        }
        if cursor < text.endIndex { segments.append(.text(String(text[cursor...]))) }
        return segments
    }
}
