import Foundation
import TestSupport
import Testing

/// The front doors — the API's handlers, the console's and the portal's pages, the CLI's
/// commands — change state only through a service: the server's doors hold storage only as the
/// `ReadModel` (reads), and the CLI, which opens the database to build its services, calls
/// nothing on it beyond those reads.
@Suite struct DoorBoundaryTests {
    static let serverDoors = [
        "Sources/TollgateServer/API", "Sources/TollgateServer/Console", "Sources/TollgateServer/Portal",
    ]
    static let commandLine = "Sources/tollgate"

    /// Every Swift file under `folder`, with its lines that are code (comments dropped).
    static func code(under folder: String) throws -> [(file: String, lines: [String])] {
        let root = Repository.path(folder)
        let names = try #require(FileManager.default.enumerator(atPath: root)?.allObjects as? [String])
        return try names.filter { $0.hasSuffix(".swift") }.sorted().map { name in
            let text = try String(contentsOfFile: root + "/" + name, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                String(line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            }
            return (folder + "/" + name, lines)
        }
    }

    static func matches(_ pattern: String, in line: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: pattern)
        return regex.matches(in: line, range: NSRange(line.startIndex..., in: line)).compactMap { match in
            Range(match.range(at: match.numberOfRanges > 1 ? 1 : 0), in: line).map { String(line[$0]) }
        }
    }

    /// The read model's functions, from its declaration.
    static func readModel() throws -> Set<String> {
        let text = try String(
            contentsOfFile: Repository.path("Sources/TollgateStorage/ReadModel.swift"), encoding: .utf8)
        return Set(matches(#"func (\w+)\("#, in: text))
    }

    @Test func serverDoorsHoldStorageOnlyAsTheReadModel() throws {
        let reads = try Self.readModel()
        var found: [String] = []
        for folder in Self.serverDoors {
            for (file, lines) in try Self.code(under: folder) {
                for (number, line) in lines.enumerated() {
                    // A store or the whole storage, by type: `any CustomerStore`, `SQLStore`, `Storage`.
                    for type in Self.matches(#"\b([A-Z]\w*Store|Storage)\b"#, in: line) {
                        found.append("\(file):\(number + 1) names \(type)")
                    }
                    for call in Self.matches(#"\bstore\.(\w+)\("#, in: line) where !reads.contains(call) {
                        found.append("\(file):\(number + 1) calls store.\(call), not a read of the ReadModel")
                    }
                }
            }
        }
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }

    @Test func theCommandLineCallsNothingOnTheStoreButReads() throws {
        let allowed = try Self.readModel().union(["shutdown", "self"])
        var found: [String] = []
        for (file, lines) in try Self.code(under: Self.commandLine) {
            for (number, line) in lines.enumerated() {
                for call in Self.matches(#"\bstore\.(\w+)"#, in: line) where !allowed.contains(call) {
                    found.append("\(file):\(number + 1) calls store.\(call)")
                }
            }
        }
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }

    /// A read model that grew a write would let every door change state around the services.
    @Test func theReadModelOnlyReads() throws {
        let writes = [
            "set", "insert", "update", "delete", "create", "record", "append", "retry", "replay", "revoke",
            "rotate", "change", "mark", "track", "grant", "remove", "apply", "prune", "write", "claim", "spend",
        ]
        let names = try Self.readModel()
        #expect(!names.isEmpty)
        let suspicious = names.filter { name in writes.contains { name.hasPrefix($0) } }
        #expect(suspicious.isEmpty, "\(suspicious.sorted())")
    }
}
