/// One problem found in a catalog file, located by its key path (`plans[1].features.notes`).
public struct CatalogIssue: Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let message: String
    public let line: Int?

    public init(path: String, message: String, line: Int? = nil) {
        self.path = path
        self.message = message
        self.line = line
    }

    public var description: String {
        let location = line.map { " (line \($0))" } ?? ""
        return "\(path.isEmpty ? "<root>" : path)\(location): \(message)"
    }
}

/// A catalog that cannot be loaded, with every issue found (not just the first).
public struct CatalogError: Error, Sendable, CustomStringConvertible {
    public let issues: [CatalogIssue]

    public init(issues: [CatalogIssue]) { self.issues = issues }

    public var description: String {
        "invalid catalog (\(issues.count) error\(issues.count == 1 ? "" : "s")):\n"
            + issues.map { "  - \($0)" }.joined(separator: "\n")
    }
}
