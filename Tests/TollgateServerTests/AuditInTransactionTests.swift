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
}
