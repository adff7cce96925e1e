import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing
import TollgateCore
import TollgateStorage

@testable import TollgateServer

/// Walks every route with bad input: each answer is a 4xx JSON error naming the problem, never a
/// 500, and nothing is recorded.
@Suite struct BadInputTests {
    struct Case: Sendable {
        let method: HTTPRequest.Method
        let path: String
        let body: String?
        let status: HTTPResponse.Status
        let code: String
        let field: String?

        init(
            _ method: HTTPRequest.Method, _ path: String, _ body: String?, _ status: HTTPResponse.Status,
            _ code: String, field: String? = nil
        ) {
            self.method = method
            self.path = path
            self.body = body
            self.status = status
            self.code = code
            self.field = field
        }
    }

    static let huge = String(repeating: "x", count: 300)

    static let cases: [Case] = {
        var cases: [Case] = []
        // Every JSON-taking route, with structurally broken bodies.
        let bodied: [(HTTPRequest.Method, String)] = [
            (.post, "/v1/customers"), (.put, "/v1/customers/u1/plan"), (.post, "/v1/check"), (.post, "/v1/consume"),
            (.post, "/v1/release"),
        ]
        for (method, path) in bodied {
            cases.append(Case(method, path, "{not json", .badRequest, "INVALID_JSON"))
            cases.append(Case(method, path, "", .badRequest, "INVALID_JSON"))
            cases.append(Case(method, path, "[1,2]", .badRequest, "INVALID_JSON"))
            cases.append(Case(method, path, "null", .badRequest, "INVALID_JSON"))
            cases.append(Case(method, path, "{}", .badRequest, "MISSING_FIELD"))
        }
        cases += [
            Case(.post, "/v1/customers", #"{"id": 42}"#, .badRequest, "INVALID_FIELD", field: "id"),
            Case(.post, "/v1/customers", #"{"id": ""}"#, .badRequest, "INVALID_FIELD", field: "id"),
            Case(.post, "/v1/customers", #"{"id": "\#(huge)"}"#, .badRequest, "INVALID_FIELD", field: "id"),
            Case(.post, "/v1/customers", #"{"id": "a\u0000b"}"#, .badRequest, "INVALID_FIELD", field: "id"),
            Case(
                .post, "/v1/customers", #"{"id": "u9", "email": "not-an-address"}"#, .badRequest, "INVALID_FIELD",
                field: "email"),
            Case(.post, "/v1/customers", #"{"id": "u9", "email": 7}"#, .badRequest, "INVALID_FIELD", field: "email"),
            Case(.put, "/v1/customers/u1/plan", #"{"plan": true}"#, .badRequest, "INVALID_FIELD", field: "plan"),
            Case(.put, "/v1/customers/u1/plan", #"{"plan": "gold"}"#, .notFound, "PLAN_NOT_FOUND", field: "plan"),
            Case(.put, "/v1/customers/ghost/plan", #"{"plan": "pro"}"#, .notFound, "CUSTOMER_NOT_FOUND"),
            Case(.get, "/v1/customers/ghost", nil, .notFound, "CUSTOMER_NOT_FOUND"),
            Case(.get, "/v1/customers/ghost/entitlements", nil, .notFound, "CUSTOMER_NOT_FOUND"),
            Case(.get, "/v1/customers/ghost/usage", nil, .notFound, "CUSTOMER_NOT_FOUND"),
            Case(.get, "/v1/customers/u1/usage?from=yesterday", nil, .badRequest, "INVALID_QUERY", field: "from"),
            Case(.get, "/v1/customers/u1/usage?to=2026-13-45", nil, .badRequest, "INVALID_QUERY", field: "to"),
            Case(
                .get, "/v1/customers/u1/usage?from=2026-05-01&to=2026-04-01", nil, .badRequest, "INVALID_QUERY",
                field: "from"),
            Case(.post, "/v1/check", #"{"customer": "u1"}"#, .badRequest, "MISSING_FIELD", field: "feature"),
            Case(
                .post, "/v1/check", #"{"customer": "u1", "feature": "nope"}"#, .notFound, "FEATURE_NOT_FOUND",
                field: "feature"),
            Case(
                .post, "/v1/check", #"{"customer": "ghost", "feature": "notes"}"#, .notFound, "CUSTOMER_NOT_FOUND",
                field: "customer"),
            Case(
                .post, "/v1/check", #"{"customer": "u1", "feature": "notes", "amount": 0}"#, .badRequest,
                "INVALID_FIELD", field: "amount"),
        ]
        // Consume and release share their body rules.
        for path in ["/v1/consume", "/v1/release"] {
            let valid = #""customer": "u1", "feature": "notes""#
            cases += [
                Case(.post, path, "{\(valid)}", .badRequest, "MISSING_FIELD", field: "idempotencyKey"),
                Case(
                    .post, path, "{\(valid), \"idempotencyKey\": \"\"}", .badRequest, "INVALID_FIELD",
                    field: "idempotencyKey"),
                Case(
                    .post, path, "{\(valid), \"idempotencyKey\": 5}", .badRequest, "INVALID_FIELD",
                    field: "idempotencyKey"),
                Case(
                    .post, path, "{\(valid), \"idempotencyKey\": \"\(huge)\"}", .badRequest, "INVALID_FIELD",
                    field: "idempotencyKey"),
                Case(
                    .post, path, "{\(valid), \"amount\": -1, \"idempotencyKey\": \"k\"}", .badRequest, "INVALID_FIELD",
                    field: "amount"),
                Case(
                    .post, path, "{\(valid), \"amount\": 0, \"idempotencyKey\": \"k\"}", .badRequest, "INVALID_FIELD",
                    field: "amount"),
                Case(
                    .post, path, "{\(valid), \"amount\": 2.5, \"idempotencyKey\": \"k\"}", .badRequest, "INVALID_FIELD",
                    field: "amount"),
                Case(
                    .post, path, "{\(valid), \"amount\": \"3\", \"idempotencyKey\": \"k\"}", .badRequest,
                    "INVALID_FIELD", field: "amount"),
                Case(
                    .post, path, "{\(valid), \"amount\": 1e40, \"idempotencyKey\": \"k\"}", .badRequest,
                    "INVALID_FIELD", field: "amount"),
                Case(
                    .post, path, "{\(valid), \"amount\": 9223372036854775807, \"idempotencyKey\": \"k\"}", .badRequest,
                    "INVALID_FIELD", field: "amount"),
                Case(
                    .post, path, #"{"customer": null, "feature": "notes", "idempotencyKey": "k"}"#, .badRequest,
                    "INVALID_FIELD", field: "customer"),
                Case(
                    .post, path, #"{"customer": "u1", "feature": "ghost_feature", "idempotencyKey": "k"}"#, .notFound,
                    "FEATURE_NOT_FOUND", field: "feature"),
                Case(
                    .post, path, #"{"customer": "ghost", "feature": "notes", "idempotencyKey": "k"}"#, .notFound,
                    "CUSTOMER_NOT_FOUND", field: "customer"),
                Case(
                    .post, path, #"{"customer": "u1", "feature": "api_access", "idempotencyKey": "k"}"#, .badRequest,
                    "INVALID_FIELD", field: "feature"),
            ]
        }
        cases += [
            Case(
                .post, "/v1/release", #"{"customer": "u1", "feature": "starter", "idempotencyKey": "k"}"#, .badRequest,
                "INVALID_FIELD", field: "feature"),
            Case(.get, "/v1/nothing-here", nil, .notFound, "NOT_FOUND"),
            Case(.get, "/nothing", nil, .notFound, "NOT_FOUND"),
            // A served path with another method: 405 with Allow.
            Case(.delete, "/v1/consume", nil, .methodNotAllowed, "METHOD_NOT_ALLOWED"),
            Case(.post, "/v1/customers/u1/entitlements", "{}", .methodNotAllowed, "METHOD_NOT_ALLOWED"),
        ]
        return cases
    }()

    @Test(arguments: TestDatabase.all)
    func everyRouteRefusesBadInputWithoutRecordingAnything(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            for bad in Self.cases {
                let (status, json) = try await client.call(bad.method, bad.path, key: app.adminKey, json: bad.body)
                let label = "\(bad.method) \(bad.path) \(bad.body ?? "")"
                #expect(status == bad.status, "\(label)")
                #expect(json.errorCode == bad.code, "\(label): \(json)")
                #expect((json["error"] as? [String: Any])?["message"] as? String != nil, "\(label)")
                if let field = bad.field { #expect(json.errorField == field, "\(label): \(json)") }
            }
            // Nothing was counted, no customer was created, the plan did not move.
            let history = try await client.call(.get, "/v1/customers/u1/usage", key: app.adminKey)
            #expect((history.json["usage"] as? [Any])?.isEmpty == true)
            #expect(try await app.store.customer(id: "u9") == nil)
            #expect(try await app.store.customer(id: "u1")?.planId == "free")
        }
    }

    @Test func everyAuthenticatedRouteRefusesAMissingKey() async throws {
        try await AppHarness.run(.sqlite) { _, client in
            for route in try OpenAPIDocument.load().productOperations where route.path.hasPrefix("/v1/") {
                let path = route.path.replacingOccurrences(of: "{id}", with: "u1")
                let (status, json) = try await client.call(route.method, path, key: nil, json: "{}")
                #expect(status == .unauthorized && json.errorCode == "UNAUTHORIZED", "\(route.method) \(path)")
            }
        }
    }
}
