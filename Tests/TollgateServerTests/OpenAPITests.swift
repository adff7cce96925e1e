import Foundation
import HTTPTypes
import Hummingbird
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
            let service = makeService(dependencies).0
            let subscriptions = SubscriptionService(
                catalog: dependencies.catalog, store: store, clock: SystemClock(), logger: TestDatabase.logger,
                planChanged: { _ in })
            let invoices = InvoiceService(catalog: dependencies.catalog, store: store, clock: SystemClock()) {
                _, _, _ in []
            }
            let router = buildRouter(dependencies, service: service, subscriptions: subscriptions, invoices: invoices)
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
            for (method, value) in item where ["get", "put", "post", "delete"].contains(method) {
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
