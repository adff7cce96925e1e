import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing
import TollgateCore
import TollgateStorage

@testable import TollgateServer

@Suite struct APIKeyTests {
    @Test(arguments: TestDatabase.all)
    func createListRevoke(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let created = try await client.call(
                .post, "/v1/api-keys", key: app.adminKey,
                json: #"{"name":"backend","scopes":["usage:write","entitlements:read","usage:write"]}"#)
            #expect(created.status == .created)
            let secret = try #require(created.json.string("secret"))
            let id = try #require(created.json.string("id"))
            #expect(created.json["scopes"] as? [String] == ["entitlements:read", "usage:write"])
            #expect(secret.hasPrefix(created.json.string("prefix") ?? "-"))
            #expect(
                try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#).status
                    == .created)
            #expect(try await client.call(.get, "/v1/customers/u1/entitlements", key: secret).status == .ok)
            #expect(try await client.call(.get, "/v1/api-keys", key: secret).status == .forbidden)

            let listed = try await client.call(.get, "/v1/api-keys", key: app.adminKey)
            let keys = try #require(listed.json["data"] as? [[String: Any]])
            #expect(keys.count == 2 && keys.allSatisfy { $0["secret"] == nil })
            #expect(keys.first { $0["id"] as? String == id }?["lastUsedAt"] is String)

            let revoked = try await client.call(.delete, "/v1/api-keys/\(id)", key: app.adminKey)
            #expect(revoked.status == .ok && revoked.json.string("revokedAt") != nil)
            #expect(try await client.call(.get, "/v1/customers/u1/entitlements", key: secret).status == .unauthorized)
            #expect(try await client.call(.delete, "/v1/api-keys/key_nothing", key: app.adminKey).status == .notFound)
            #expect(
                try await client.call(.post, "/v1/api-keys/\(id)/rotate", key: app.adminKey, json: "{}").status
                    == .notFound)
        }
    }

    @Test(arguments: TestDatabase.all)
    func rotationKeepsBothKeysForTheGracePeriodOnly(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let old = try await client.call(
                .post, "/v1/api-keys", key: app.adminKey, json: #"{"scopes":["entitlements:read"]}"#)
            let oldSecret = try #require(old.json.string("secret")), oldId = try #require(old.json.string("id"))
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let rotated = try await client.call(
                .post, "/v1/api-keys/\(oldId)/rotate", key: app.adminKey, json: #"{"gracePeriodSeconds":3600}"#)
            #expect(rotated.status == .created && rotated.json["scopes"] as? [String] == ["entitlements:read"])
            let newSecret = try #require(rotated.json.string("secret"))
            #expect(try await client.call(.get, "/v1/customers/u1", key: oldSecret).status == .ok)
            #expect(try await client.call(.get, "/v1/customers/u1", key: newSecret).status == .ok)
            app.clock.advance(by: 3601)
            #expect(try await client.call(.get, "/v1/customers/u1", key: oldSecret).status == .unauthorized)
            #expect(try await client.call(.get, "/v1/customers/u1", key: newSecret).status == .ok)
        }
    }

    @Test func badKeyRequestsNameTheField() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let cases: [(HTTPRequest.Method, String, String, String)] = [
                (.post, "/v1/api-keys", #"{"scopes":[]}"#, "scopes"),
                (.post, "/v1/api-keys", #"{"scopes":["admin","root"]}"#, "scopes[1]"),
                (.post, "/v1/api-keys", #"{"scopes":"admin"}"#, "scopes"),
                (.post, "/v1/api-keys", #"{"scopes":["admin"],"expiresAt":"2020-01-01T00:00:00Z"}"#, "expiresAt"),
                (.post, "/v1/api-keys", #"{"scopes":["admin"],"expiresAt":"soon"}"#, "expiresAt"),
                (.post, "/v1/api-keys/key_x/rotate", #"{"gracePeriodSeconds":-1}"#, "gracePeriodSeconds"),
                (.post, "/v1/api-keys/key_x/rotate", #"{"gracePeriodSeconds":99999999}"#, "gracePeriodSeconds"),
            ]
            for (method, path, body, field) in cases {
                let (status, json) = try await client.call(method, path, key: app.adminKey, json: body)
                #expect(status == .badRequest && json.errorField == field, "\(path) \(body): \(json)")
            }
            #expect(try await client.call(.get, "/v1/api-keys", key: app.adminKey).json["data"] as? [Any] != nil)
            #expect((try await app.store.listAPIKeys()).count == 1)
        }
    }
}
