import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateStorage

@testable import TollgateServer

@Suite struct WorkspaceTests {
    static var memento: Catalog {
        get throws { try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml")) }
    }

    struct Person {
        let id: String
        let access: String
        let refresh: String
    }

    static func person(_ app: AppHarness, _ client: some TestClientProtocol, _ name: String) async throws -> Person {
        let user = try await AccountTests.signUp(app, client, email: "\(name)@example.com")
        return Person(id: user.id, access: user.access, refresh: user.refresh)
    }

    /// Invites `email` with `role` as `inviter`, and returns the link's token from the outbox.
    static func invite(
        _ client: some TestClientProtocol, _ app: AppHarness, workspace: String, by inviter: Person, email: String,
        role: String
    ) async throws -> String {
        let invited = try await client.call(
            .post, "/v1/workspaces/\(workspace)/members/invite", key: inviter.access,
            json: #"{"email":"\#(email)","role":"\#(role)"}"#)
        #expect(invited.status == .created, "\(invited.json)")
        let message = try #require(
            try await app.store.outboxMessages(recipient: email).last { $0.kind == "email.workspace_invitation" })
        let payload = try #require(
            try JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: String])
        return try TestKeys.box.openToken(try #require(payload["sealedToken"]))
    }

    static func join(
        _ client: some TestClientProtocol, _ app: AppHarness, workspace: String, owner: Person, name: String,
        role: String
    ) async throws -> Person {
        let token = try await invite(
            client, app, workspace: workspace, by: owner, email: "\(name)@example.com", role: role)
        let person = try await person(app, client, name)
        let accepted = try await client.call(
            .post, "/v1/workspaces/\(workspace)/invitations/\(token)", key: person.access)
        #expect(accepted.status == .ok && accepted.json.string("role") == role, "\(accepted.json)")
        return person
    }

    static func createWorkspace(_ client: some TestClientProtocol, _ owner: Person, plan: String?, app: AppHarness)
        async throws -> String
    {
        let created = try await client.call(.post, "/v1/workspaces", key: owner.access, json: #"{"name":"Acme R&D"}"#)
        #expect(created.status == .created && created.json.string("role") == "OWNER")
        let id = try #require(created.json.string("id"))
        if let plan {
            #expect(
                try await client.call(
                    .put, "/v1/customers/\(id)/plan", key: app.adminKey, json: #"{"plan":"\#(plan)"}"#
                ).status == .ok)
        }
        return id
    }

    @Test(arguments: TestDatabase.all)
    func invitationsAreSingleUseForTheInvitedAddressAndExpire(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try Self.memento) { app, client in
            let owner = try await Self.person(app, client, "owner")
            let ws = try await Self.createWorkspace(client, owner, plan: "business", app: app)
            let token = try await Self.invite(
                client, app, workspace: ws, by: owner, email: "bob@example.com", role: "MEMBER")
            let carol = try await Self.person(app, client, "carol")
            let stolen = try await client.call(.post, "/v1/workspaces/\(ws)/invitations/\(token)", key: carol.access)
            #expect(stolen.status == .forbidden)
            let bob = try await Self.person(app, client, "bob")
            #expect(
                try await client.call(.post, "/v1/workspaces/\(ws)/invitations/\(token)", key: bob.access).status == .ok
            )
            #expect(
                try await client.call(.post, "/v1/workspaces/\(ws)/invitations/\(token)", key: bob.access).status
                    == .notFound)
            let listed = try await client.call(.get, "/v1/workspaces", key: bob.access)
            #expect((listed.json["data"] as? [[String: Any]])?.first?["role"] as? String == "MEMBER")

            let late = try await Self.invite(
                client, app, workspace: ws, by: owner, email: "carol@example.com", role: "VIEWER")
            app.clock.advance(by: 7 * 86_400 + 1)
            // Her access token expired meanwhile too: she signs in again.
            let again = try await client.call(
                .post, "/v1/auth/login", key: nil,
                json: #"{"email":"carol@example.com","password":"\#(AccountTests.password)"}"#)
            let againAccess: String = try #require(again.json.string("accessToken"))
            let expired = try await client.call(
                .post, "/v1/workspaces/\(ws)/invitations/\(late)", key: againAccess)
            #expect(expired.status == .notFound && expired.json.errorField == "token")
        }
    }

    @Test(arguments: TestDatabase.all)
    func seatsBoundMembersPlusPendingInvitations(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try Self.memento) { app, client in
            let owner = try await Self.person(app, client, "owner")
            // On Pro a workspace has no collaborators: the owner alone.
            let ws = try await Self.createWorkspace(client, owner, plan: "pro", app: app)
            let refused = try await client.call(
                .post, "/v1/workspaces/\(ws)/members/invite", key: owner.access, json: #"{"email":"a@example.com"}"#)
            #expect(refused.status == .conflict && refused.json.errorCode == "SEAT_LIMIT_REACHED")
            // Business: owner + 10. Pending invitations hold seats.
            #expect(
                try await client.call(
                    .put, "/v1/customers/\(ws)/plan", key: app.adminKey, json: #"{"plan":"business"}"#
                ).status == .ok)
            for index in 0..<10 {
                #expect(
                    try await client.call(
                        .post, "/v1/workspaces/\(ws)/members/invite", key: owner.access,
                        json: #"{"email":"m\#(index)@example.com"}"#
                    ).status == .created)
            }
            #expect(
                try await client.call(
                    .post, "/v1/workspaces/\(ws)/members/invite", key: owner.access,
                    json: #"{"email":"m10@example.com"}"#
                ).json.errorCode == "SEAT_LIMIT_REACHED")
            // Re-inviting a pending address replaces its invitation instead of taking a seat.
            #expect(
                try await client.call(
                    .post, "/v1/workspaces/\(ws)/members/invite", key: owner.access,
                    json: #"{"email":"m3@example.com","role":"VIEWER"}"#
                ).status == .created)
            // A +5 add-on makes room.
            let addOn = try await client.call(
                .put, "/v1/customers/\(ws)/plan", key: app.adminKey,
                json: #"{"plan":"business","addOns":{"collaborators_5":1}}"#)
            #expect(addOn.status == .ok && (addOn.json["addOns"] as? [String: Int]) == ["collaborators_5": 1])
            #expect(
                try await client.call(
                    .post, "/v1/workspaces/\(ws)/members/invite", key: owner.access,
                    json: #"{"email":"m10@example.com"}"#
                ).status == .created)
            let members = try await client.call(.get, "/v1/workspaces/\(ws)/members", key: owner.access)
            #expect(members.json.int("seatLimit") == 16 && (members.json["invitations"] as? [Any])?.count == 11)
            // Enterprise: at least 20 seats billed, at most 500 before sales.
            #expect(
                try await client.call(
                    .put, "/v1/customers/\(ws)/plan", key: app.adminKey, json: #"{"plan":"enterprise","seats":12}"#
                ).json.errorField == "seats")
            #expect(
                try await client.call(
                    .put, "/v1/customers/\(ws)/plan", key: app.adminKey, json: #"{"plan":"enterprise","seats":501}"#
                ).json.errorField == "seats")
            #expect(
                try await client.call(
                    .put, "/v1/customers/\(ws)/plan", key: app.adminKey, json: #"{"plan":"enterprise","seats":25}"#
                ).status == .ok)
            #expect(try await client.call(.get, "/v1/workspaces/\(ws)", key: owner.access).json.int("seatLimit") == 25)
        }
    }

    @Test(arguments: TestDatabase.all)
    func rolesDecideWhoMayDoWhat(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try Self.memento) { app, client in
            let owner = try await Self.person(app, client, "owner")
            let ws = try await Self.createWorkspace(client, owner, plan: "business", app: app)
            let admin = try await Self.join(client, app, workspace: ws, owner: owner, name: "admin", role: "ADMIN")
            let member = try await Self.join(client, app, workspace: ws, owner: owner, name: "member", role: "MEMBER")
            let viewer = try await Self.join(client, app, workspace: ws, owner: owner, name: "viewer", role: "VIEWER")

            #expect(
                try await client.call(.get, "/v1/workspaces/\(ws)/members", key: member.access).status == .forbidden)
            #expect(
                try await client.call(
                    .post, "/v1/workspaces/\(ws)/members/invite", key: viewer.access,
                    json: #"{"email":"x@example.com"}"#
                ).status == .forbidden)
            #expect(
                try await client.call(
                    .post, "/v1/workspaces/\(ws)/members/invite", key: admin.access, json: #"{"email":"x@example.com"}"#
                ).status == .created)
            #expect(
                try await client.call(.patch, "/v1/workspaces/\(ws)", key: admin.access, json: #"{"name":"Acme"}"#)
                    .status == .ok)
            #expect(
                try await client.call(
                    .patch, "/v1/workspaces/\(ws)/members/\(member.id)", key: admin.access, json: #"{"role":"ADMIN"}"#
                ).status == .forbidden)
            #expect(try await client.call(.delete, "/v1/workspaces/\(ws)", key: admin.access).status == .forbidden)
            #expect(try await client.call(.get, "/v1/workspaces/\(ws)/quota", key: admin.access).status == .ok)
            #expect(try await client.call(.get, "/v1/workspaces/\(ws)/quota", key: member.access).status == .forbidden)
            // Only the owner changes roles; nobody becomes owner that way, and the owner cannot be removed.
            #expect(
                try await client.call(
                    .patch, "/v1/workspaces/\(ws)/members/\(viewer.id)", key: owner.access, json: #"{"role":"MEMBER"}"#
                ).status == .ok)
            #expect(
                try await client.call(
                    .patch, "/v1/workspaces/\(ws)/members/\(viewer.id)", key: owner.access, json: #"{"role":"OWNER"}"#
                ).json.errorField == "role")
            #expect(
                try await client.call(.delete, "/v1/workspaces/\(ws)/members/\(owner.id)", key: admin.access).status
                    == .notFound)
            #expect(
                try await client.call(.delete, "/v1/workspaces/\(ws)/members/\(viewer.id)", key: admin.access).status
                    == .ok)
            // A member may leave.
            #expect(
                try await client.call(.delete, "/v1/workspaces/\(ws)/members/\(member.id)", key: member.access).status
                    == .ok)
            #expect(try await client.call(.get, "/v1/workspaces/\(ws)", key: member.access).status == .notFound)
            // Ownership moves to a member; there is still exactly one owner.
            #expect(
                try await client.call(
                    .post, "/v1/workspaces/\(ws)/transfer", key: admin.access, json: #"{"userId":"\#(owner.id)"}"#
                ).status == .forbidden)
            #expect(
                try await client.call(
                    .post, "/v1/workspaces/\(ws)/transfer", key: owner.access, json: #"{"userId":"\#(member.id)"}"#
                ).status == .notFound)
            #expect(
                try await client.call(
                    .post, "/v1/workspaces/\(ws)/transfer", key: owner.access, json: #"{"userId":"\#(admin.id)"}"#
                ).status == .ok)
            let roles = try #require(
                try await client.call(.get, "/v1/workspaces/\(ws)/members", key: admin.access).json["data"]
                    as? [[String: Any]])
            #expect(roles.filter { $0["role"] as? String == "OWNER" }.map { $0["userId"] as? String } == [admin.id])
            #expect(try await client.call(.delete, "/v1/workspaces/\(ws)", key: owner.access).status == .forbidden)
            #expect(try await client.call(.delete, "/v1/workspaces/\(ws)", key: admin.access).status == .ok)
            #expect(try await client.call(.get, "/v1/workspaces/\(ws)", key: admin.access).status == .notFound)
        }
    }

    @Test(arguments: TestDatabase.all)
    func membersShareTheWorkspacePoolAndViewersCannotUseIt(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try Self.memento) { app, client in
            let owner = try await Self.person(app, client, "owner")
            let ws = try await Self.createWorkspace(client, owner, plan: "business", app: app)
            let member = try await Self.join(client, app, workspace: ws, owner: owner, name: "member", role: "MEMBER")
            let viewer = try await Self.join(client, app, workspace: ws, owner: owner, name: "viewer", role: "VIEWER")
            func consume(_ who: Person, amount: Int, key: String, workspace: String? = ws) async throws -> (
                HTTPResponse.Status, [String: Any]
            ) {
                let inWorkspace = workspace.map { #","workspace":"\#($0)""# } ?? ""
                return try await client.call(
                    .post, "/v1/consume", key: app.adminKey,
                    json:
                        #"{"customer":"\#(who.id)","feature":"semantic_search","amount":\#(amount)"#
                        + #","idempotencyKey":"\#(key)"\#(inWorkspace)}"#
                )
            }
            // Business pools 1000 semantic searches a month for everyone in the workspace.
            let (first, firstJSON) = try await consume(owner, amount: 600, key: "a")
            #expect(first == .ok && firstJSON.int("limit") == 1000)
            #expect(try await consume(member, amount: 400, key: "b").0 == .ok)
            let (full, fullJSON) = try await consume(member, amount: 1, key: "c")
            #expect(
                full == .tooManyRequests && fullJSON.string("reason") == "WORKSPACE_QUOTA_EXHAUSTED"
                    && fullJSON.errorCode == "WORKSPACE_QUOTA_EXHAUSTED")
            // The member's own starter pack was not touched.
            let own = try await consume(member, amount: 30, key: "d", workspace: nil)
            #expect(own.0 == .ok && own.1.int("limit") == 30)
            let (viewed, viewedJSON) = try await consume(viewer, amount: 1, key: "e")
            #expect(viewed == .forbidden && viewedJSON.errorField == "workspace")
            let stranger = try await Self.person(app, client, "stranger")
            #expect(try await consume(stranger, amount: 1, key: "f").0 == .notFound)
            let pool = try await client.call(.get, "/v1/workspaces/\(ws)/quota", key: owner.access)
            #expect(
                (pool.json["features"] as? [[String: Any]])?.first { $0["feature"] as? String == "semantic_search" }?[
                    "used"] as? Int == 1000)
            // On a plan without pools, a workspace member uses their own quota.
            #expect(
                try await client.call(.put, "/v1/customers/\(ws)/plan", key: app.adminKey, json: #"{"plan":"pro"}"#)
                    .status == .ok)
            let (ownAgain, ownJSON) = try await consume(member, amount: 1, key: "g")
            #expect(ownAgain == .tooManyRequests && ownJSON.string("reason") == "USER_QUOTA_EXHAUSTED")
        }
    }

    @Test(arguments: TestDatabase.all)
    func accessTokensCarryTheSelectedWorkspaceAndRole(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try Self.memento) { app, client in
            let owner = try await Self.person(app, client, "owner")
            let ws = try await Self.createWorkspace(client, owner, plan: "business", app: app)
            let member = try await Self.join(client, app, workspace: ws, owner: owner, name: "member", role: "MEMBER")
            let plain = try await client.call(.get, "/v1/me/workspace", key: member.access)
            #expect(plain.json.isNull("workspace") && plain.json.string("plan") == "basic")
            let selected = try await client.call(
                .post, "/v1/auth/refresh", key: nil,
                json: #"{"refreshToken":"\#(member.refresh)","workspace":"\#(ws)"}"#)
            let access = try #require(selected.json.string("accessToken")),
                refresh = try #require(selected.json.string("refreshToken"))
            let inside = try await client.call(.get, "/v1/me/workspace", key: access)
            #expect(
                inside.json.string("workspace") == ws && inside.json.string("role") == "MEMBER"
                    && inside.json.string("plan") == "business")
            // The selection stays on later refreshes, and null clears it.
            let kept = try await client.call(
                .post, "/v1/auth/refresh", key: nil, json: #"{"refreshToken":"\#(refresh)"}"#)
            let keptAccess: String = try #require(kept.json.string("accessToken"))
            #expect(try await client.call(.get, "/v1/me/workspace", key: keptAccess).json.string("workspace") == ws)
            let cleared = try await client.call(
                .post, "/v1/auth/refresh", key: nil,
                json: #"{"refreshToken":"\#(try #require(kept.json.string("refreshToken")))","workspace":null}"#)
            let clearedAccess: String = try #require(cleared.json.string("accessToken"))
            #expect(try await client.call(.get, "/v1/me/workspace", key: clearedAccess).json.isNull("workspace"))
            let outsider = try await Self.person(app, client, "outsider")
            let refused = try await client.call(
                .post, "/v1/auth/refresh", key: nil,
                json: #"{"refreshToken":"\#(outsider.refresh)","workspace":"\#(ws)"}"#)
            #expect(refused.status == .notFound)
        }
    }

    @Test func badWorkspaceInputNamesTheField() async throws {
        try await AppHarness.run(.sqlite, catalog: try Self.memento) { app, client in
            let owner = try await Self.person(app, client, "owner")
            let ws = try await Self.createWorkspace(client, owner, plan: "business", app: app)
            let cases: [(HTTPRequest.Method, String, String, String)] = [
                (.post, "/v1/workspaces", #"{"name":""}"#, "name"),
                (.post, "/v1/workspaces", #"{"name":"\#(String(repeating: "n", count: 101))"}"#, "name"),
                (.post, "/v1/workspaces", #"{"name":5}"#, "name"),
                (.post, "/v1/workspaces", "{}", "name"),
                (.patch, "/v1/workspaces/\(ws)", #"{"name":"   "}"#, "name"),
                (.post, "/v1/workspaces/\(ws)/members/invite", #"{"email":"nope"}"#, "email"),
                (.post, "/v1/workspaces/\(ws)/members/invite", #"{"email":"a@example.com","role":"KING"}"#, "role"),
                (.post, "/v1/workspaces/\(ws)/members/invite", #"{"email":"a@example.com","role":"OWNER"}"#, "role"),
                (.patch, "/v1/workspaces/\(ws)/members/\(owner.id)", #"{"role":"nobody"}"#, "role"),
                (.post, "/v1/workspaces/\(ws)/transfer", "{}", "userId"),
                (.put, "/v1/customers/\(ws)/plan", #"{"plan":"business","addOns":{"ghost":1}}"#, "addOns.ghost"),
                (
                    .put, "/v1/customers/\(ws)/plan", #"{"plan":"business","addOns":{"collaborators_5":-1}}"#,
                    "addOns.collaborators_5"
                ),
                (.put, "/v1/customers/\(ws)/plan", #"{"plan":"business","seats":3}"#, "seats"),
                (
                    .post, "/v1/consume",
                    #"{"customer":"\#(owner.id)","feature":"chat","idempotencyKey":"k","workspace":7}"#, "workspace"
                ),
            ]
            for (method, path, body, field) in cases {
                let key = path.hasPrefix("/v1/workspaces") ? owner.access : app.adminKey
                let (status, json) = try await client.call(method, path, key: key, json: body)
                #expect(
                    status == .badRequest && json.errorField == field, "\(method) \(path) \(body): \(status) \(json)")
            }
            // A plan change refused for its add-ons or seats does not change the plan either.
            #expect(
                try await client.call(
                    .put, "/v1/customers/\(ws)/plan", key: app.adminKey,
                    json: #"{"plan":"enterprise","addOns":{"ghost":1}}"#
                ).json.errorField == "addOns.ghost")
            #expect(
                try await client.call(
                    .put, "/v1/customers/\(ws)/plan", key: app.adminKey, json: #"{"plan":"pro","seats":25}"#
                ).json.errorField == "seats")
            #expect(try await app.store.customer(id: ws)?.planId == "business")
            let listed = try await client.call(.get, "/v1/workspaces", key: owner.access)
            #expect((listed.json["data"] as? [Any])?.count == 1)
            #expect(try await app.store.pendingInvitations(workspaceId: ws, now: app.clock.now()).isEmpty)
        }
    }
}
