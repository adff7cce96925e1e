import Foundation
import TestSupport
import Testing

/// The README's walk through the API, run as a newcomer pastes it — every shell
/// block in order, on a fresh data directory, against the real binary — and each answer the
/// README shows (`# 201 {…}`) held to the one received, in status and shape. A call the README
/// shows no answer for must succeed (2xx).
@Suite struct ReadmeTests {
    /// The shell blocks of one part of the walk, and the catalog its server runs.
    struct Part: CustomTestStringConvertible, Sendable {
        let name: String
        let catalog: String?
        let blocks: [String]
        var testDescription: String { name }
    }

    /// The walk (from "## A walk through the API" to the next `##` heading), split at `###`
    /// headings. The credits part runs on the Renzo catalog, as its text says, after the block
    /// that creates the key.
    static func walk() throws -> [Part] {
        let readme = try String(contentsOfFile: Repository.path("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "\n## A walk through the API\n"))
        let rest = readme[start.upperBound...]
        let walk = rest[..<(rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex)]
        var parts: [(name: String, text: Substring)] = []
        var name = "walk"
        var text = Substring()
        for line in walk.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("### ") {
                parts.append((name, text))
                (name, text) = (String(line.dropFirst(4)), "")
            } else {
                text += line + "\n"
            }
        }
        parts.append((name, text))
        let blocks = parts.map { ($0.name, shellBlocks($0.text)) }
        let keyBlock = try #require(blocks.first?.1.first)
        var memento: [String] = []
        var result: [Part] = []
        for (name, shell) in blocks where !shell.isEmpty {
            if name.hasPrefix("Credits") {
                result.append(Part(name: name, catalog: "catalogs/renzo.yaml", blocks: [keyBlock] + shell))
            } else {
                memento += shell
            }
        }
        return [Part(name: "walk and end users", catalog: nil, blocks: memento)] + result
    }

    static func shellBlocks(_ text: Substring) -> [String] {
        text.components(separatedBy: "```sh\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
    }

    /// An answer the README shows after a call.
    struct Shown {
        let status: Int
        let text: String
    }

    /// Each curl call of the script in order, with the answer shown after it (if any).
    static func expectations(_ blocks: [String]) -> [Shown?] {
        var calls: [Shown?] = []
        for line in blocks.joined(separator: "\n").split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#") {
                let words = trimmed.dropFirst().trimmingCharacters(in: .whitespaces)
                if let status = Int(words.prefix(3)), words.count > 4, !calls.isEmpty {
                    calls[calls.count - 1] = Shown(status: status, text: String(words.dropFirst(4)))
                }
                continue
            }
            let code = trimmed.components(separatedBy: " #").first ?? trimmed
            calls += Array(repeating: nil, count: code.components(separatedBy: "curl ").count - 1)
        }
        return calls
    }

    /// Defines `curl` to record each call's status and body on one line (CSV answers end theirs
    /// with CRLF: both go) (and still print the body, so
    /// `$(curl …)` captures work as pasted), `swift run tollgate` as the built binary, and the
    /// README's port as the server's.
    static func script(_ blocks: [String], port: Int, binary: String, log: String) -> String {
        let prelude = """
            set -euo pipefail
            tollgate() { "\(binary)" "$@"; }
            curl() {
              local out
              out=$(command curl -w '\\n%{http_code}' "$@")
              local status=${out##*$'\\n'} body=${out%$'\\n'*}
              printf '%s\\t%s\\n' "$status" "$(printf '%s' "$body" | tr -d '\\r\\n')" >> "\(log)"
              printf '%s' "$body"
            }

            """
        return prelude
            + blocks.joined(separator: "\n")
            .replacingOccurrences(of: "swift run tollgate", with: "tollgate")
            .replacingOccurrences(of: "localhost:8080", with: "127.0.0.1:\(port)")
    }

    @Test(arguments: try walk())
    func theWalkThroughRunsAsWritten(part: Part) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataDirectory = directory.appendingPathComponent("tollgate-data").path
        let server = try await ServerProcess.start(
            ["--data-dir", dataDirectory] + (part.catalog.map { ["--catalog", Repository.path($0)] } ?? []))
        defer { server.stop() }
        let log = directory.appendingPathComponent("calls.log").path
        let scriptPath = directory.appendingPathComponent("walk.sh").path
        try Self.script(part.blocks, port: server.baseURL.port ?? 0, binary: try TollgateBinary.path, log: log)
            .write(toFile: scriptPath, atomically: true, encoding: .utf8)
        // Run from the directory the README's commands assume (`./tollgate-data`).
        let run = try await TollgateBinary.runProgram(
            "/bin/bash", ["-c", "cd \"\(directory.path)\" && exec /bin/bash \"\(scriptPath)\""])
        #expect(run.status == 0, "the walk stopped with status \(run.status): \(run.stderr)")

        let received = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n") ?? []
        let shown = Self.expectations(part.blocks)
        #expect(received.count == shown.count, "\(shown.count) curl calls in the README, \(received.count) made")
        for (index, (call, expected)) in zip(received, shown).enumerated() {
            let fields = call.split(separator: "\t", maxSplits: 1).map(String.init)
            let status = Int(fields[0]) ?? 0
            let body = fields.count > 1 ? fields[1] : ""
            guard let expected else {
                #expect((200..<300).contains(status), "call \(index + 1) answered \(status): \(body)")
                continue
            }
            #expect(status == expected.status, "call \(index + 1): the README shows \(expected.status), got \(status)")
            let json = try? JSONSerialization.jsonObject(with: Data(body.utf8))
            for problem in Self.differences(shown: expected.text, received: json) {
                Issue.record("call \(index + 1): \(problem) — received \(body)")
            }
        }
    }

    /// Where a shown answer and the received JSON disagree: every key shown is received, with the
    /// value shown unless the README elides it (`…`).
    static func differences(shown: String, received: Any?) -> [String] {
        let pair = try! NSRegularExpression(pattern: #""([A-Za-z_]+)":("[^"]*"|-?[0-9]+|true|false|null)?"#)
        var problems: [String] = []
        let range = NSRange(shown.startIndex..., in: shown)
        for match in pair.matches(in: shown, range: range) {
            let key = String(shown[Range(match.range(at: 1), in: shown)!])
            guard let value = firstValue(of: key, in: received) else {
                problems.append("no \"\(key)\"")
                continue
            }
            guard let literalRange = Range(match.range(at: 2), in: shown) else { continue }
            let literal = String(shown[literalRange])
            if literal.contains("…") { continue }
            let expected = try? JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed)
            if let expected, canonical(expected) != canonical(value) {
                problems.append("\"\(key)\" is \(value), the README shows \(literal)")
            }
        }
        return problems
    }

    /// A JSON value as sorted-key JSON text, to compare two parsed values.
    static func canonical(_ value: Any) -> String? {
        (try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys])).map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    /// The value of the first `key` met, level by level.
    static func firstValue(of key: String, in json: Any?) -> Any? {
        var level: [Any] = json.map { [$0] } ?? []
        while !level.isEmpty {
            var next: [Any] = []
            for node in level {
                if let object = node as? [String: Any] {
                    if let value = object[key] { return value }
                    next += Array(object.values)
                } else if let array = node as? [Any] {
                    next += array
                }
            }
            level = next
        }
        return nil
    }
}
