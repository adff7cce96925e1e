import Foundation
import Yams

/// Typed access to a YAML tree that records an issue, with its key path, instead of failing fast.
struct YAMLReader {
    private(set) var issues: [CatalogIssue] = []

    mutating func report(_ path: String, _ message: String, _ node: Node? = nil) {
        issues.append(CatalogIssue(path: path, message: message, line: node?.mark.map { $0.line }))
    }

    /// The pairs of a mapping; reports keys that are not in `allowed` and keys given twice.
    mutating func mapping(_ node: Node, _ path: String, allowed: Set<String>? = nil) -> [(key: String, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            report(path, "expected a mapping", node)
            return nil
        }
        var seen = Set<String>()
        var pairs: [(key: String, value: Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                report(path, "keys must be strings", keyNode)
                continue
            }
            let childPath = YAMLReader.join(path, key)
            if !seen.insert(key).inserted {
                report(childPath, "key given twice", keyNode)
                continue
            }
            if let allowed, !allowed.contains(key) {
                report(childPath, "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))", keyNode)
                continue
            }
            pairs.append((key, value))
        }
        return pairs
    }

    mutating func sequence(_ node: Node, _ path: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            report(path, "expected a list", node)
            return nil
        }
        return Array(sequence)
    }

    mutating func string(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node, node.tag.rawValue == Tag.Name.str.rawValue, !scalar.string.isEmpty else {
            report(path, "expected a non-empty string", node)
            return nil
        }
        return scalar.string
    }

    /// One string (every language), or a mapping of languages to strings with `en` required.
    mutating func localizedText(_ node: Node, _ path: String) -> LocalizedText? {
        if case .scalar = node { return string(node, path).map { LocalizedText($0) } }
        guard let pairs = mapping(node, path, allowed: LocalizedText.languages) else { return nil }
        var texts: [String: String] = [:]
        for (language, value) in pairs { texts[language] = string(value, YAMLReader.join(path, language)) }
        guard let english = texts["en"] else {
            report(path, "the English text (en) is required", node)
            return nil
        }
        return LocalizedText(english, others: texts)
    }

    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard node.tag.rawValue == Tag.Name.bool.rawValue, let value = node.bool else {
            report(path, "expected true or false", node)
            return nil
        }
        return value
    }

    mutating func integer(_ node: Node, _ path: String, in range: ClosedRange<Int64>) -> Int64? {
        guard node.tag.rawValue == Tag.Name.int.rawValue, let text = node.scalar?.string,
            let value = Int64(text.replacingOccurrences(of: "_", with: ""))
        else {
            report(path, "expected a whole number", node)
            return nil
        }
        guard range.contains(value) else {
            if value < range.lowerBound {
                report(path, value < 0 ? "must not be negative" : "must be at least \(range.lowerBound)", node)
            } else {
                report(path, "must be at most \(range.upperBound)", node)
            }
            return nil
        }
        return value
    }

    /// A number or the word `unlimited`.
    mutating func limit(_ node: Node, _ path: String) -> Limit? {
        if node.tag.rawValue == Tag.Name.str.rawValue, node.scalar?.string == "unlimited" { return .unlimited }
        guard node.tag.rawValue == Tag.Name.int.rawValue else {
            report(path, "expected a whole number or unlimited", node)
            return nil
        }
        return integer(node, path, in: 0...CatalogLoader.maximumQuantity).map(Limit.finite)
    }

    mutating func oneOf<T: RawRepresentable & CaseIterable>(_ node: Node, _ path: String, _: T.Type) -> T?
    where T.RawValue == String {
        let allowed = T.allCases.map(\.rawValue)
        guard node.tag.rawValue == Tag.Name.str.rawValue, let raw = node.scalar?.string, let value = T(rawValue: raw)
        else {
            report(path, "expected one of \(allowed.joined(separator: ", "))", node)
            return nil
        }
        return value
    }

    /// Reports a missing required key.
    mutating func require<T>(_ value: T?, _ present: Bool, _ path: String, _ node: Node) -> T? {
        if !present { report(path, "is required", node) }
        return value
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    static func index(_ path: String, _ index: Int) -> String { "\(path)[\(index)]" }
}

extension Array where Element == (key: String, value: Node) {
    subscript(key: String) -> Node? { first { $0.key == key }?.value }
}
