import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing
import TollgateCore
import TollgateStorage

@testable import TollgateServer

/// User A, signed in, tries every route against user B's resources: each is refused (401, 403
/// or 404) and nothing of B's changes.
@Suite struct IsolationTests {
    @Test(arguments: TestDatabase.all)
    func noRouteLetsOneUserReachAnotherUsersResources(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            let bob = try await WorkspaceTests.person(app, client, "bob")
            let bobsWorkspace = try await WorkspaceTests.createWorkspace(client, bob, plan: "business", app: app)
            let colleague = try await WorkspaceTests.join(
                client, app, workspace: bobsWorkspace, owner: bob, name: "colleague", role: "MEMBER")
            let invitation = try await WorkspaceTests.invite(
                client, app, workspace: bobsWorkspace, by: bob, email: "friend@example.com", role: "MEMBER")
            let bobsSessions = try #require(
                try await client.call(.get, "/v1/me/sessions", key: bob.access).json["data"] as? [[String: Any]])
            let bobsSession = try #require(bobsSessions.first?["id"] as? String)
            let apiKey = try await client.call(
                .post, "/v1/api-keys", key: app.adminKey, json: #"{"scopes":["entitlements:read"]}"#)
            let keyId = try #require(apiKey.json.string("id"))
            _ = try await client.call(
                .post, "/v1/consume", key: app.adminKey,
                json: #"{"customer":"\#(bob.id)","feature":"notes","idempotencyKey":"n1"}"#)

            let ada = try await WorkspaceTests.person(app, client, "ada")
            let ws = bobsWorkspace
            let attempts: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/v1/workspaces/\(ws)", nil),
                (.patch, "/v1/workspaces/\(ws)", #"{"name":"mine now"}"#),
                (.delete, "/v1/workspaces/\(ws)", nil),
                (.get, "/v1/workspaces/\(ws)/members", nil),
                (.post, "/v1/workspaces/\(ws)/members/invite", #"{"email":"ada2@example.com"}"#),
                (.patch, "/v1/workspaces/\(ws)/members/\(colleague.id)", #"{"role":"VIEWER"}"#),
                (.delete, "/v1/workspaces/\(ws)/members/\(colleague.id)", nil),
                (.get, "/v1/workspaces/\(ws)/quota", nil),
                (.post, "/v1/workspaces/\(ws)/invitations/\(invitation)", nil),
                (.post, "/v1/workspaces/\(ws)/transfer", #"{"userId":"\#(ada.id)"}"#),
                (.delete, "/v1/me/sessions/\(bobsSession)", nil),
                // Product routes take secret keys, never a user's access token.
                (.get, "/v1/customers/\(bob.id)", nil),
                (.get, "/v1/customers/\(bob.id)/entitlements", nil),
                (.get, "/v1/customers/\(bob.id)/usage", nil),
                (.put, "/v1/customers/\(bob.id)/plan", #"{"plan":"enterprise"}"#),
                (.put, "/v1/customers/\(ws)/plan", #"{"plan":"enterprise"}"#),
                (.post, "/v1/consume", #"{"customer":"\#(bob.id)","feature":"notes","idempotencyKey":"x"}"#),
                (.post, "/v1/release", #"{"customer":"\#(bob.id)","feature":"notes","idempotencyKey":"x"}"#),
                (.post, "/v1/check", #"{"customer":"\#(bob.id)","feature":"notes"}"#),
                (.get, "/v1/api-keys", nil),
                (.delete, "/v1/api-keys/\(keyId)", nil),
                (.post, "/v1/api-keys/\(keyId)/rotate", "{}"),
            ]
            for (method, path, body) in attempts {
                let (status, json) = try await client.call(method, path, key: ada.access, json: body)
                #expect(
                    [.unauthorized, .forbidden, .notFound].contains(status),
                    "\(method) \(path) answered \(status): \(json)")
            }
            // Selecting Bob's workspace into Ada's token is refused too.
            #expect(
                try await client.call(
                    .post, "/v1/auth/refresh", key: nil,
                    json: #"{"refreshToken":"\#(ada.refresh)","workspace":"\#(ws)"}"#
                ).status == .notFound)
            let adasWorkspaces = try await client.call(.get, "/v1/workspaces", key: ada.access)
            #expect((adasWorkspaces.json["data"] as? [Any])?.isEmpty == true)

            // Nothing of Bob's changed.
            let detail = try await client.call(.get, "/v1/workspaces/\(ws)", key: bob.access)
            #expect(detail.status == .ok && detail.json.string("name") == "Acme R&D")
            let members = try #require(
                try await client.call(.get, "/v1/workspaces/\(ws)/members", key: bob.access).json["data"]
                    as? [[String: Any]])
            #expect(Set(members.compactMap { $0["userId"] as? String }) == [bob.id, colleague.id])
            #expect(members.first { $0["userId"] as? String == colleague.id }?["role"] as? String == "MEMBER")
            #expect(members.first { $0["userId"] as? String == bob.id }?["role"] as? String == "OWNER")
            #expect(try await client.call(.get, "/v1/me", key: bob.access).status == .ok)
            #expect(try await app.store.customer(id: bob.id)?.planId == "basic")
            #expect(try await app.store.customer(id: ws)?.planId == "business")
            #expect(try await app.store.apiKey(id: keyId)?.revokedAt == nil)
            let usage = try await client.call(.get, "/v1/customers/\(bob.id)/entitlements", key: app.adminKey)
            #expect(
                (usage.json["features"] as? [[String: Any]])?.first { $0["feature"] as? String == "notes" }?["used"]
                    as? Int == 1)
            // The invitation still works for the address it was sent to.
            let friend = try await WorkspaceTests.person(app, client, "friend")
            #expect(
                try await client.call(.post, "/v1/workspaces/\(ws)/invitations/\(invitation)", key: friend.access)
                    .status == .ok)
        }
    }
}
