import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateSQL
import TollgateStorage

@testable import TollgateServer

/// Builds the real application over a fresh database, with an API key for each scope set asked for.
struct AppHarness {
    static let webhookSecret = "whsec_tollgate_test_current"
    static let oldWebhookSecret = "whsec_tollgate_test_previous"

    let store: any Storage
    let clock: ManualClock
    let adminKey: String
    let dependencies: AppDependencies

    /// The router's meter: the one the scheduler below tells of plan changes, as the server's does.
    let meter: Meter

    /// The billing scheduler as the server runs it, on the server's meter.
    func scheduler() -> SubscriptionService {
        makeBilling(dependencies, service: meter).1
    }

    static func run(
        _ database: TestDatabase, catalog: Catalog? = nil, clock: ManualClock = ManualClock(Fixtures.utc(2026, 5, 14)),
        wrap: @escaping @Sendable (SQLStore) -> any Storage = { $0 }, stripe: StripeClient? = nil,
        setup: TestingSetup = .router, configure: @escaping @Sendable (inout AppDependencies) -> Void = { _ in },
        _ body: @escaping @Sendable (AppHarness, any TestClientProtocol) async throws -> Void
    ) async throws {
        let catalog = try catalog ?? Fixtures.catalog
        try await database.withStore { base, _ in
            let store = wrap(base)
            let admin = APIKeys.generate(scopes: [.admin], name: "test admin", at: clock.now())
            try await base.insertAPIKey(admin.record)
            var dependencies = AppDependencies(
                catalog: catalog, store: store, databaseKind: base.provider.kind, clock: clock,
                logger: TestDatabase.logger,
                signingKeys: TestKeys.ring, secretBox: TestKeys.box, passwordPolicy: TestKeys.policy,
                stripeWebhookSecrets: [AppHarness.webhookSecret, AppHarness.oldWebhookSecret], stripe: stripe,
                shutdown: {}
            )
            configure(&dependencies)
            let meter = makeMeter(dependencies)
            let harness = AppHarness(
                store: store, clock: clock, adminKey: admin.secret, dependencies: dependencies, meter: meter.0)
            try await buildApplication(dependencies, meter: meter).test(setup) { client in
                try await body(harness, client)
            }
        }
    }

    func key(scopes: [Scope]) async throws -> String {
        let created = APIKeys.generate(scopes: scopes, name: nil, at: clock.now())
        try await store.insertAPIKey(created.record)
        return created.secret
    }
}

extension TestClientProtocol {
    /// Sends `body` (a JSON literal) with the key, and returns the status and the parsed JSON.
    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ uri: String, key: String?, json body: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
        var headers = extra
        if let key { headers[.authorization] = "Bearer \(key)" }
        headers[.contentType] = "application/json"
        let response = try await send(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let data = Data(response.body.readableBytesView)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        #expect(
            object != nil, "\(method) \(uri): the body is not a JSON object: \(String(decoding: data, as: UTF8.self))")
        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(method) \(uri)")
        return (response.status, object ?? [:])
    }

    /// `execute`, with the answer held to openapi.yaml's schema for its route and status (JSON
    /// answers; a route the document lacks, a test-only one, has nothing to check). Every answer
    /// a test receives goes through here.
    func send(
        uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        let response = try await execute(uri: uri, method: method, headers: headers, body: body)
        let problems = try #require(OpenAPIResponseValidator.shared).problems(
            method: method, path: uri, status: Int(response.status.code),
            body: Data(response.body.readableBytesView), contentType: response.headers[.contentType])
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        return response
    }
}

extension Dictionary where Key == String, Value == Any {
    var errorCode: String? { (self["error"] as? [String: Any])?["code"] as? String }
    var errorField: String? { (self["error"] as? [String: Any])?["field"] as? String }
    func int(_ key: String) -> Int? { self[key] as? Int }
    func string(_ key: String) -> String? { self[key] as? String }
    func isNull(_ key: String) -> Bool { self[key] is NSNull }
}
