import Foundation

/// A minimal INI reader (sections of `key = value` lines, `#`/`;` comments), the format of the
/// Helix artifact's cluster, machine-profile and layout files. Keeps line numbers for errors.
struct IniFile {
    struct Section {
        var name: String
        var line: Int
        var entries: [(key: String, value: String, line: Int)] = []

        func value(_ key: String) -> String? { entries.first { $0.key == key }?.value }
    }

    var path: String
    var sections: [Section] = []

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PlacementError(file: path, "cannot read the file (does it exist?)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PlacementError(file: path, "the file is not UTF-8 text")
        }
        try self.init(text: text, path: path)
    }

    init(text: String, path: String) throws {
        self.path = path
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else {
                    throw PlacementError(file: path, "line \(index + 1): section header '\(line)' has no closing ']'")
                }
                sections.append(Section(name: String(line.dropFirst().dropLast()), line: index + 1))
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                throw PlacementError(file: path, "line \(index + 1): expected 'key = value', found '\(line)'")
            }
            guard !sections.isEmpty else {
                throw PlacementError(file: path, "line \(index + 1): '\(line)' comes before any [section]")
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            sections[sections.count - 1].entries.append((key, value, index + 1))
        }
    }

    func section(_ name: String) -> Section? { sections.first { $0.name == name } }

    func require(_ section: Section, _ key: String) throws -> String {
        guard let value = section.value(key) else {
            throw PlacementError(file: path, section: section.name, field: key, "missing")
        }
        return value
    }
}

/// Quantities in the Helix files: `1000 * mbps`, `16 * GB`, `1 * MilliSec`, `-1`.
/// Bandwidth units follow the artifact: mbps = 1e6 and gbps = 1e9 **bytes** per second.
enum HelixUnits {
    static let factors: [String: Double] = [
        "bps": 1, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9,
        "Byte": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9,
        "Sec": 1, "MilliSec": 1e-3, "MicroSec": 1e-6,
    ]

    static func parse(_ text: String) -> Double? {
        var product = 1.0
        for part in text.split(separator: "*") {
            let token = part.trimmingCharacters(in: .whitespaces)
            if let number = Double(token) { product *= number } else if let unit = factors[token] { product *= unit } else { return nil }
        }
        return product
    }
}

/// A list like `['source', 1, 2, 'sink']` or `[0, 1, 2]` (Python literal syntax).
enum PythonList {
    static func parse(_ text: String) -> [String]? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("["), trimmed.hasSuffix("]") else { return nil }
        let body = trimmed.dropFirst().dropLast()
        if body.trimmingCharacters(in: .whitespaces).isEmpty { return [] }
        return body.split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        }
    }
}
