/// Tokens of OpenQASM 2.0.
enum TokenKind: Equatable, Sendable {
    case identifier(String)
    case integer(String)
    case real(String)
    case string(String)
    case symbol(String)   // ; , ( ) [ ] { } + - * / ^ -> ==
    case end
}

struct Token: Sendable {
    var kind: TokenKind
    var line: Int
    var column: Int

    var text: String {
        switch kind {
        case .identifier(let s), .integer(let s), .real(let s), .symbol(let s): return "'\(s)'"
        case .string(let s): return "\"\(s)\""
        case .end: return "end of input"
        }
    }
}

/// Splits source text into tokens, skipping whitespace and `//` comments.
struct QASMLexer {
    static func tokenize(_ source: String) throws(QASMError) -> [Token] {
        let chars = Array(source.unicodeScalars)
        var tokens: [Token] = []
        var i = 0, line = 1, col = 1
        func advance(_ n: Int = 1) {
            for _ in 0..<n where i < chars.count {
                if chars[i] == "\n" { line += 1; col = 1 } else { col += 1 }
                i += 1
            }
        }
        func isIdentStart(_ c: Unicode.Scalar) -> Bool { c == "_" || (c.properties.isAlphabetic && c.isASCII) }
        func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r" { advance(); continue }
            if c == "/" && i + 1 < chars.count && chars[i + 1] == "/" {
                while i < chars.count && chars[i] != "\n" { advance() }
                continue
            }
            let (tl, tc) = (line, col)
            if isIdentStart(c) {
                var s = ""
                while i < chars.count && (isIdentStart(chars[i]) || isDigit(chars[i])) { s.unicodeScalars.append(chars[i]); advance() }
                tokens.append(Token(kind: .identifier(s), line: tl, column: tc))
            } else if isDigit(c) || (c == "." && i + 1 < chars.count && isDigit(chars[i + 1])) {
                var s = ""
                var isReal = false
                while i < chars.count && isDigit(chars[i]) { s.unicodeScalars.append(chars[i]); advance() }
                if i < chars.count && chars[i] == "." {
                    isReal = true
                    s.unicodeScalars.append(chars[i]); advance()
                    while i < chars.count && isDigit(chars[i]) { s.unicodeScalars.append(chars[i]); advance() }
                }
                if i < chars.count && (chars[i] == "e" || chars[i] == "E") {
                    var j = i + 1
                    if j < chars.count && (chars[j] == "+" || chars[j] == "-") { j += 1 }
                    if j < chars.count && isDigit(chars[j]) {
                        isReal = true
                        while i < j { s.unicodeScalars.append(chars[i]); advance() }
                        while i < chars.count && isDigit(chars[i]) { s.unicodeScalars.append(chars[i]); advance() }
                    }
                }
                tokens.append(Token(kind: isReal ? .real(s) : .integer(s), line: tl, column: tc))
            } else if c == "\"" {
                advance()
                var s = ""
                while i < chars.count && chars[i] != "\"" && chars[i] != "\n" { s.unicodeScalars.append(chars[i]); advance() }
                guard i < chars.count && chars[i] == "\"" else { throw QASMError(line: tl, column: tc, "unterminated string: expected a closing '\"'") }
                advance()
                tokens.append(Token(kind: .string(s), line: tl, column: tc))
            } else if c == "-" && i + 1 < chars.count && chars[i + 1] == ">" {
                advance(2)
                tokens.append(Token(kind: .symbol("->"), line: tl, column: tc))
            } else if c == "=" && i + 1 < chars.count && chars[i + 1] == "=" {
                advance(2)
                tokens.append(Token(kind: .symbol("=="), line: tl, column: tc))
            } else if ";,()[]{}+-*/^".unicodeScalars.contains(c) {
                advance()
                tokens.append(Token(kind: .symbol(String(c)), line: tl, column: tc))
            } else {
                throw QASMError(line: tl, column: tc, "unexpected character '\(c)'")
            }
        }
        tokens.append(Token(kind: .end, line: line, column: col))
        return tokens
    }
}
