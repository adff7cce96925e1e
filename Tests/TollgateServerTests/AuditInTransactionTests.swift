import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SQLKit
import TestSupport
import Testing
import TollgateSQL
import TollgateStorage

@testable import TollgateServer

/// A service writes its change and the change's audit entry in one transaction: an entry that
/// cannot be written undoes the change, and a change made is always in the trail.
@Suite struct AuditInTransactionTests {
    /// Makes the trail unwritable (its head row gone) for the length of `body`, then puts it back.
    static func withTrailBroken(_ store: any Storage, _ body: () async throws -> Void) async throws {
        let provider = try #require((store as? SQLStore)?.provider)
        let head = try await store.auditHead()
        try await provider.transaction { db in try await db.raw("DELETE FROM audit_head").run() }
        try await body()
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO audit_head (id, last_seq, last_hash, pruned_seq, pruned_hash, code)
                VALUES (1, \(bind: head.lastSequence), \(bind: head.lastHash), \(bind: head.prunedSequence),
                    \(bind: head.prunedHash), \(bind: head.code))
                """
            ).run()
        }
    }

    static func keyIds(_ client: some TestClientProtocol, _ app: AppHarness) async throws -> [String: Bool] {
        let listed = try await client.call(.get, "/v1/api-keys", key: app.adminKey)
        let keys = listed.json["data"] as? [[String: Any]] ?? []
        return Dictionary(
            uniqueKeysWithValues: keys.compactMap { key in
                (key["id"] as? String).map { ($0, key["revokedAt"] is String) }
            })
    }

    @Test(arguments: TestDatabase.all)
    func aKeyIsMadeRevokedOrRotatedWithItsEntryOrNotAtAll(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let made = try await client.call(
                .post, "/v1/api-keys", key: app.adminKey, json: #"{"scopes":["entitlements:read"],"name":"reader"}"#)
            #expect(made.status == .created)
            let id = try #require(made.json.string("id"))
            let entry = try #require(try await app.store.auditEvents(AuditQuery()).first)
            #expect(entry.draft.action == "api_key.created" && entry.draft.target == "api_key:\(id)")
            #expect(entry.draft.actor.kind == .secretKey && entry.draft.ip != nil)
            let after = try #require(entry.draft.after)
            let secret = try #require(made.json.string("secret"))
            #expect(after.contains("\"entitlements:read\"") && !after.contains(secret) && !after.contains("secret"))
            let before = try await Self.keyIds(client, app)

            try await Self.withTrailBroken(app.store) {
                // A database that fails is no answer the document lists: sent without its check.
                for (method, path, body) in [
                    (HTTPRequest.Method.post, "/v1/api-keys", #"{"scopes":["entitlements:read"]}"#),
                    (.delete, "/v1/api-keys/\(id)", nil), (.post, "/v1/api-keys/\(id)/rotate", nil),
                ] {
                    let refused = try await client.execute(
                        uri: path, method: method,
                        headers: [.authorization: "Bearer \(app.adminKey)", .contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) })
                    #expect(refused.status == .internalServerError, "\(method) \(path)")
                }
            }
            // Nothing of the three refused calls stayed: no new key, the old one still live.
            #expect(try await Self.keyIds(client, app) == before)
            #expect(try await app.store.auditEvents(AuditQuery()).count == 1)

            #expect(try await client.call(.delete, "/v1/api-keys/\(id)", key: app.adminKey).status == .ok)
            let revoked = try #require(try await app.store.auditEvents(AuditQuery()).first)
            #expect(revoked.draft.action == "api_key.revoked" && revoked.draft.target == "api_key:\(id)")
            #expect(revoked.draft.before?.contains("\"revokedAt\"") == false)
            #expect(revoked.draft.after?.contains("\"revokedAt\"") == true)
        }
    }

    /// A call sent without the document's check (a failing database is no answer it lists).
    static func raw(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, key: String, json: String?
    ) async throws -> HTTPResponse.Status {
        try await client.execute(
            uri: path, method: method, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
            body: json.map { ByteBuffer(string: $0) }
        ).status
    }

    @Test(arguments: TestDatabase.all)
    func customersPlansCapsAndGrantsChangeOnlyWithTheirEntry(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let key = app.adminKey
            #expect(try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"c1"}"#).status == .created)
            let entries = try await app.store.auditEvents(AuditQuery()).count
            try await Self.withTrailBroken(app.store) {
                for (method, path, body) in [
                    (HTTPRequest.Method.post, "/v1/customers", #"{"id":"c2"}"#),
                    (.put, "/v1/customers/c1/plan", #"{"plan":"pro"}"#),
                    (.put, "/v1/customers/c1/spend-cap", #"{"amount":5000,"currency":"EUR"}"#),
                    (
                        .post, "/v1/customers/c1/credits/grants",
                        #"{"amount":50,"reason":"purchase","idempotencyKey":"order-1"}"#
                    ),
                ] {
                    let status = try await Self.raw(client, method, path, key: key, json: body)
                    #expect(status == .internalServerError, "\(method) \(path)")
                }
            }
            // None of the four stayed: no c2, c1 on its plan, without a cap or credits.
            #expect(try await app.store.customer(id: "c2") == nil)
            let c1 = try #require(try await app.store.customer(id: "c1"))
            #expect(c1.planId == "free" && c1.spendCap == nil)
            let credits = try await client.call(.get, "/v1/customers/c1/credits", key: key)
            let balances = credits.json["balances"] as? [[String: Any]] ?? []
            #expect(balances.allSatisfy { ($0["balance"] as? Int ?? 0) == 0 }, "\(credits.json)")
            #expect(try await app.store.auditEvents(AuditQuery()).count == entries)
            // With the trail back, the same grant goes through, with its entry.
            let granted = try await client.call(
                .post, "/v1/customers/c1/credits/grants", key: key,
                json: #"{"amount":50,"reason":"purchase","idempotencyKey":"order-1"}"#)
            #expect(granted.status == .created && granted.json.int("balance") == 50)
            let entry = try #require(try await app.store.auditEvents(AuditQuery()).first)
            #expect(entry.draft.action == "credits.granted" && entry.draft.target == "customer:c1")
        }
    }
}
