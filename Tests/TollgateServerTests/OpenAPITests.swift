import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateStorage
import Yams

@testable import TollgateServer

/// The operations `openapi.yaml` documents.
struct OpenAPIDocument {
    struct Operation: Hashable, CustomStringConvertible {
        let method: HTTPRequest.Method
        let path: String
        var description: String { "\(method) \(path)" }
    }

    /// Operations that name their own security: `[]` (public) or the end-user access token.
    func security(of operation: Operation) -> [[String: Any]]? {
        (paths[operation.path]?[operation.method.rawValue.lowercased()] as? [String: Any])?["security"]
            as? [[String: Any]]
    }

    /// Operations authenticated with a secret API key (the document's default).
    var productOperations: [Operation] { operations.filter { security(of: $0) == nil } }

    let root: [String: Any]

    static func load() throws -> OpenAPIDocument {
        let text = try String(contentsOfFile: Repository.path("openapi.yaml"), encoding: .utf8)
        return OpenAPIDocument(root: try #require(try Yams.load(yaml: text) as? [String: Any]))
    }

    var paths: [String: [String: Any]] { (root["paths"] as? [String: [String: Any]]) ?? [:] }

    var operations: [Operation] {
        paths.flatMap { path, item in
            item.keys.compactMap { key in
                HTTPRequest.Method(key.uppercased()).flatMap {
                    ["get", "put", "post", "delete", "patch"].contains(key) ? Operation(method: $0, path: path) : nil
                }
            }
        }
    }
}

@Suite struct OpenAPITests {
    @Test func theDocumentAndTheRouterServeTheSameRoutes() async throws {
        let document = try OpenAPIDocument.load()
        #expect(document.root["openapi"] as? String == "3.1.0")
        let documented = Set(document.operations)
        try await TestDatabase.sqlite.withStore { store, _ in
            let dependencies = AppDependencies(
                catalog: try Fixtures.catalog, store: store, databaseKind: .sqlite, clock: SystemClock(),
                logger: TestDatabase.logger,
                signingKeys: TestKeys.ring, secretBox: TestKeys.box, passwordPolicy: TestKeys.policy, shutdown: {}
            )
            let service = makeMeter(dependencies).0
            let subscriptions = SubscriptionService(
                catalog: dependencies.catalog, store: store, clock: SystemClock(), logger: TestDatabase.logger)
            let invoices = InvoiceService(catalog: dependencies.catalog, store: store, clock: SystemClock()) {
                _, _, _ in []
            }
            let router = buildRouter(
                dependencies,
                Services(dependencies, meter: service, invoices: invoices, subscriptions: subscriptions))
            let served = Set(
                router.routes.map { OpenAPIDocument.Operation(method: $0.method, path: $0.path.description) })
            #expect(
                served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented))")
            #expect(
                documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served))")
        }
    }

    @Test func everyOperationDocumentsItsErrorsAndEveryReferenceResolves() throws {
        let document = try OpenAPIDocument.load()
        for (path, item) in document.paths {
            for (method, value) in item where ["get", "put", "post", "patch", "delete"].contains(method) {
                let operation = try #require(value as? [String: Any])
                let responses = try #require(operation["responses"] as? [String: Any], "\(method) \(path)")
                #expect(responses.keys.contains { $0.hasPrefix("2") }, "\(method) \(path) has no success response")
                if path.hasPrefix("/v1/") {
                    let isPublic = (operation["security"] as? [Any])?.isEmpty == true
                    #expect(
                        (isPublic || responses["401"] != nil) && responses["400"] != nil,
                        "\(method) \(path) lacks its 400/401")
                }
                #expect(operation["operationId"] is String, "\(method) \(path) lacks an operationId")
            }
        }
        // Every $ref points at something that exists.
        let text = try String(contentsOfFile: Repository.path("openapi.yaml"), encoding: .utf8)
        let components = try #require(document.root["components"] as? [String: [String: Any]])
        for match in text.matches(of: /\$ref: "#\/components\/(\w+)\/(\w+)"/) {
            #expect(components[String(match.1)]?[String(match.2)] != nil, "dangling \(match.0)")
        }
    }
}

/// The validator every HTTP test's answers go through must itself refuse what the document
/// does not allow, or the check is empty.
@Suite struct OpenAPIResponseValidatorTests {
    @Test func refusesWhatTheDocumentDoesNotAllow() throws {
        let validator = try #require(OpenAPIResponseValidator.shared)
        let good =
            #"{"allowed":true,"customer":"c","feature":"f","amount":1,"limit":3,"used":1,"remaining":2"#
            + #","resetsAt":null,"reason":null,"upgradeTier":null,"overage":null}"#
        #expect(validator.problems(method: .post, path: "/v1/consume", status: 200, body: Data(good.utf8)) == [])
        let cases = [
            (200, good.replacingOccurrences(of: #""allowed":true"#, with: #""allowed":"yes""#), "$.allowed"),
            (200, good.replacingOccurrences(of: #""used":1,"#, with: ""), "$.used: missing"),
            (200, good.replacingOccurrences(of: #""reason":null"#, with: #""reason":"BORED""#), "$.reason"),
            (200, good.replacingOccurrences(of: "{", with: #"{"surprise":1,"#), "$.surprise: not documented"),
            (418, good, "answered 418"),
        ]
        for (status, body, expected) in cases {
            let problems = validator.problems(method: .post, path: "/v1/consume", status: status, body: Data(body.utf8))
            #expect(problems.contains { $0.contains(expected) }, "\(expected): \(problems)")
        }
        #expect(
            validator.problems(
                method: .get, path: "/v1/customers/c%20d/entitlements?x=1", status: 404,
                body: Data(#"{"error":{"code":"NOPE","message":"m"}}"#.utf8)
            ).contains { $0.contains("$.error.code") })
    }
}

@Suite struct OpenAPISchemaKeywordTests {
    static let keywords: Set<String> = [
        "$ref", "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum",
        "const", "oneOf", "anyOf", "allOf", "minimum", "maximum", "minLength", "maxLength", "pattern", "format",
        "description", "title", "example", "examples", "default", "readOnly", "writeOnly", "deprecated",
    ]

    /// Every schema object, wherever it sits, with the path to it.
    static func schemas(in node: Any, at path: String, into found: inout [(String, [String: Any])]) {
        if let object = node as? [String: Any] {
            for (key, value) in object {
                if key == "schema" || key == "items" || key == "additionalProperties",
                    let schema = value as? [String: Any]
                {
                    found.append(("\(path).\(key)", schema))
                }
                if key == "properties" || key == "schemas", let members = value as? [String: Any] {
                    for (name, member) in members {
                        if let schema = member as? [String: Any] { found.append(("\(path).\(key).\(name)", schema)) }
                    }
                }
                if ["oneOf", "anyOf", "allOf"].contains(key), let parts = value as? [Any] {
                    for (index, part) in parts.enumerated() {
                        if let schema = part as? [String: Any] { found.append(("\(path).\(key)[\(index)]", schema)) }
                    }
                }
                schemas(in: value, at: "\(path).\(key)", into: &found)
            }
        } else if let array = node as? [Any] {
            for (index, element) in array.enumerated() { schemas(in: element, at: "\(path)[\(index)]", into: &found) }
        }
    }

    /// A flow mapping with an unquoted comma (`description: a, b }`) silently splits into a
    /// truncated text and a stray key: no schema may hold a key JSON Schema does not know.
    @Test func everySchemaUsesOnlyKnownKeywords() throws {
        let document = try OpenAPIDocument.load()
        var found: [(String, [String: Any])] = []
        Self.schemas(in: document.root, at: "$", into: &found)
        #expect(found.count > 100)
        for (path, schema) in found where !path.hasSuffix(".properties") {
            let unknown = Set(schema.keys).subtracting(Self.keywords)
            // A `properties` map's members are names, not keywords; skip the map itself.
            if path.contains(".properties."), schema["type"] == nil, schema["$ref"] == nil, schema["oneOf"] == nil,
                schema["allOf"] == nil, schema["anyOf"] == nil, schema["enum"] == nil, schema["const"] == nil,
                schema["description"] == nil
            {
                continue
            }
            #expect(unknown.isEmpty, "\(path) has \(unknown.sorted())")
        }
    }
}

/// The document and a readable reference are served by the binary itself.
@Suite struct DocsRouteTests {
    /// The patterns schemathesis holds the server to are the server's own rules, word for word:
    /// e-mail addresses, times and days, and ids (checked against `Validate.identifier` on
    /// strings at the edges of its rules).
    @Test func thePatternsOfTheDocumentAreTheServersRules() throws {
        let schemas = try #require(
            (try OpenAPIDocument.load().root["components"] as? [String: Any])?["schemas"] as? [String: Any])
        func pattern(_ name: String) -> String? { (schemas[name] as? [String: Any])?["pattern"] as? String }
        #expect(pattern("Email") == EmailAddress.pattern)
        #expect(pattern("Timestamp") == RFC3339.timestampPattern)
        #expect(pattern("Day") == RFC3339.dayPattern)
        let id = try NSRegularExpression(pattern: try #require(pattern("Id")))
        let samples = [
            "", "a", "café 42", "a/b", "user@42", "\u{0}", "a\nb", "\u{7F}", "\u{85}", "\u{9F}", "\u{A0}", "tab\there",
            String(repeating: "x", count: 255), String(repeating: "é", count: 255), String(repeating: "x", count: 256),
        ]
        for sample in samples {
            let range = NSRange(sample.startIndex..., in: sample)
            let matched = id.firstMatch(in: sample, options: [.anchored], range: range)?.range == range
            let length = sample.unicodeScalars.count
            let inDocument = matched && (1...255).contains(length)
            #expect(
                inDocument == ((try? Validate.identifier(sample, field: "id")) != nil),
                "\(sample.debugDescription.prefix(40))")
        }
        #expect(RFC3339.date("2026-02-30T12:00:00.5+01:00") == RFC3339.date("2026-03-02T11:00:00.5Z"))
        #expect(RFC3339.date("2026-05-01") == nil && RFC3339.day("2026-05-01") != nil)
    }

    @Test func theDocumentAndItsReferencePageAreServed() async throws {
        try await AppHarness.run(.sqlite) { _, client in
            let document = try await client.send(uri: "/openapi.yaml", method: .get)
            let served = String(decoding: Data(document.body.readableBytesView), as: UTF8.self)
            #expect(document.status == .ok && document.headers[.contentType]?.hasPrefix("application/yaml") == true)
            #expect(served == (try String(contentsOfFile: Repository.path("openapi.yaml"), encoding: .utf8)))
            let reference = try await client.send(uri: "/docs", method: .get)
            let page = String(decoding: Data(reference.body.readableBytesView), as: UTF8.self)
            #expect(reference.headers[.contentType] == "text/html; charset=utf-8")
            // Every operation is on the page, and nothing in it loads from elsewhere.
            for operation in try OpenAPIDocument.load().operations {
                #expect(
                    page.contains("\(operation.method.rawValue)</span> <code>\(operation.path)</code>"), "\(operation)")
            }
            #expect(!page.contains("<script") && !page.contains("http://") && !page.contains("https://"))
            // And every webhook payload, by its event types.
            #expect(page.contains("<code>usage.threshold_reached, usage.limit_reached</code>"))
            #expect(page.contains("<code>credits.low</code>") && page.contains("<code>providerEventId</code>"))
            let home = try await client.send(uri: "/", method: .get)
            let links = String(decoding: Data(home.body.readableBytesView), as: UTF8.self)
            #expect(links.contains(#"href="/docs""#) && links.contains(#"href="/openapi.yaml""#))
            // The root page leads a person to the pages too.
            for page in ["/pricing", "/portal", "/console"] { #expect(links.contains(#"href="\#(page)""#)) }
        }
    }

    @Test func theReferenceEscapesWhatTheDocumentSays() throws {
        let page = try APIReferencePage.render(
            yaml: """
                info: { title: "<script>alert(1)</script>", version: "1" }
                paths:
                  /x:
                    get:
                      summary: "a & b < c"
                      responses: { "200": { description: "\\"quoted\\" 'single'" } }
                """)
        #expect(!page.contains("<script>alert"))
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && page.contains("a &amp; b &lt; c"))
        #expect(page.contains("&quot;quoted&quot; &#39;single&#39;"))
    }
}

@Suite struct OpenAPIExampleTests {
    /// Examples are documentation a reader copies: each must be valid for its own schema.
    @Test func everySchemaExampleIsValidForItsSchema() throws {
        let document = try OpenAPIDocument.load()
        let validator = try #require(OpenAPIResponseValidator.shared)
        let schemas = try #require((document.root["components"] as? [String: Any])?["schemas"] as? [String: Any])
        var checked = 0
        for (name, schema) in schemas {
            for example in (schema as? [String: Any])?["examples"] as? [Any] ?? [] {
                // Through JSON, as a client would send or read it.
                let json = try JSONSerialization.jsonObject(
                    with: try JSONSerialization.data(withJSONObject: example), options: [.fragmentsAllowed])
                #expect(validator.problems(of: json, asSchema: name) == [], "\(name): \(example)")
                checked += 1
            }
        }
        #expect(checked >= 5)
    }
}
