import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateSQL
import TollgateStorage

@testable import TollgateServer

/// What the API, the portal and the console change is in the audit trail with
/// its actor, address, target and states; the trail is read by filter and cursor; a workspace's
/// owner reads its part on a plan with `audit_log`; `tollgate audit verify` finds tampering.
@Suite struct AuditTrailTests {
    static func events(_ client: some TestClientProtocol, key: String, _ query: String = "") async throws
        -> (status: HTTPResponse.Status, entries: [[String: Any]], next: String?)
    {
        let answer = try await client.call(.get, "/v1/audit-events" + query, key: key)
        return (answer.status, answer.json["data"] as? [[String: Any]] ?? [], answer.json.string("nextCursor"))
    }

    @Test(arguments: TestDatabase.all)
    func changesAreRecordedWithActorTargetAndStates(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            #expect(
                try await client.call(
                    .post, "/v1/customers", key: app.adminKey, json: #"{"id":"c1"}"#,
                    headers: [.userAgent: "billing-backend/1.0"]
                ).status == .created)
            #expect(
                try await client.call(.put, "/v1/customers/c1/plan", key: app.adminKey, json: #"{"plan":"pro"}"#)
                    .status == .ok)
            // The same plan again changes nothing, and records nothing.
            _ = try await client.call(.put, "/v1/customers/c1/plan", key: app.adminKey, json: #"{"plan":"pro"}"#)
            // Metering is not audited.
            _ = try await client.call(
                .post, "/v1/consume", key: app.adminKey,
                json: #"{"customer":"c1","feature":"searches","amount":1,"idempotencyKey":"k1"}"#)
            let user = try await AccountTests.signUp(app, client, email: "ada@example.com")
            let refused = try await client.call(
                .post, "/v1/auth/login", key: nil, json: #"{"email":"ada@example.com","password":"wrong-password-1"}"#)
            #expect(refused.status == .unauthorized)

            let (status, entries, _) = try await Self.events(client, key: app.adminKey)
            #expect(status == .ok)
            let actions = entries.compactMap { $0["action"] as? String }
            #expect(
                actions == [
                    "auth.sign_in_failed", "auth.signed_in", "account.email_verified", "account.sign_up_requested",
                    "customer.plan_changed", "customer.created",
                ], "\(actions)")
            let failed = entries[0]
            #expect(failed["target"] as? String == "email:ada@example.com")
            #expect((failed["actor"] as? [String: Any])?["kind"] as? String == "anonymous")
            let signedIn = entries[1]
            #expect((signedIn["actor"] as? [String: Any])?["id"] as? String == user.id)
            #expect(signedIn["target"] as? String == "account:\(user.id)")
            let planChange = entries[4]
            #expect(planChange["target"] as? String == "customer:c1")
            #expect((planChange["before"] as? [String: Any])?["plan"] as? String == "free")
            #expect((planChange["after"] as? [String: Any])?["plan"] as? String == "pro")
            #expect((planChange["actor"] as? [String: Any])?["kind"] as? String == "secret_key")
            #expect(entries[5]["userAgent"] as? String == "billing-backend/1.0")
            #expect(entries.allSatisfy { $0["ip"] is String })

            // Filters and the cursor.
            let byKey = try await Self.events(client, key: app.adminKey, "?actor=secret_key&limit=1")
            #expect(byKey.entries.map { $0["action"] as? String } == ["customer.plan_changed"])
            let rest = try await Self.events(
                client, key: app.adminKey, "?actor=secret_key&limit=1&cursor=\(try #require(byKey.next))")
            #expect(rest.entries.map { $0["action"] as? String } == ["customer.created"])
            let about = try await Self.events(client, key: app.adminKey, "?target=customer:c1&action=customer.created")
            #expect(about.entries.count == 1 && about.next == nil)
            // A bare id would match nothing: it is refused, saying what to send.
            let bare = try await client.call(.get, "/v1/audit-events?target=c1", key: app.adminKey)
            #expect(bare.status == .badRequest && bare.json.errorField == "target")
            let mine = try await Self.events(client, key: app.adminKey, "?actor=user:\(user.id)")
            // Following the verification link is the account's own act.
            #expect(mine.entries.map { $0["action"] as? String } == ["auth.signed_in", "account.email_verified"])
            let later = try await Self.events(client, key: app.adminKey, "?from=2030-01-01T00:00:00Z")
            #expect(later.entries.isEmpty)
            let bad = try await client.call(.get, "/v1/audit-events?from=yesterday", key: app.adminKey)
            #expect(bad.status == .badRequest && (bad.json["error"] as? [String: Any])?["field"] as? String == "from")
            // Only an admin key reads the trail.
            let reader = try await app.key(scopes: [.entitlementsRead])
            #expect(try await client.call(.get, "/v1/audit-events", key: reader).status == .forbidden)

            // The user's export holds what is about them, and nothing about c1.
            let export = try await client.call(.get, "/v1/me/export", key: user.access)
            let exported = export.json["auditEvents"] as? [[String: Any]] ?? []
            #expect(exported.compactMap { $0["action"] as? String } == ["auth.signed_in", "account.email_verified"])
            let trail = AuditTrail(store: app.store, box: TestKeys.box, clock: app.clock)
            #expect(try await trail.verify() == .intact(entries: 6, lastSequence: 6))
        }
    }

    static let enterpriseCatalog = """
        product: audited
        name: Audited
        defaultPlan: free
        features:
          audit_log: { type: boolean, name: Audit log }
          collaborators: { type: limit, name: Collaborators }
        plans:
          - id: free
            name: Free
            order: 0
            features: { collaborators: 5 }
          - id: enterprise
            name: Enterprise
            order: 1
            features: { collaborators: 5, audit_log: true }
        """

    @Test(arguments: TestDatabase.all)
    func aWorkspaceOwnerReadsItsTrailOnAPlanWithTheAuditLog(database: TestDatabase) async throws {
        let catalog = try CatalogLoader.load(yaml: Self.enterpriseCatalog)
        try await AppHarness.run(database, catalog: catalog) { app, client in
            let owner = try await AccountTests.signUp(app, client, email: "owner@example.com")
            let admin = try await AccountTests.signUp(app, client, email: "admin@example.com")
            let created = try await client.call(.post, "/v1/workspaces", key: owner.access, json: #"{"name":"Acme"}"#)
            let workspace = try #require(created.json.string("id"))
            let invited = try await client.call(
                .post, "/v1/workspaces/\(workspace)/members/invite", key: owner.access,
                json: #"{"email":"admin@example.com","role":"ADMIN"}"#)
            #expect(invited.status == .created)
            let token = try await AccountTests.emailToken(
                app.store, "admin@example.com", kind: "email.workspace_invitation")
            #expect(
                try await client.call(.post, "/v1/workspaces/\(workspace)/invitations/\(token)", key: admin.access)
                    .status == .ok)
            let path = "/v1/workspaces/\(workspace)/audit-events"
            // On a plan without audit_log, not even the owner reads it.
            let free = try await client.call(.get, path, key: owner.access)
            #expect(free.status == .tooManyRequests && free.json.errorCode == "TIER_LIMITED", "\(free.json)")
            #expect(
                try await client.call(
                    .put, "/v1/customers/\(workspace)/plan", key: app.adminKey, json: #"{"plan":"enterprise"}"#
                )
                .status == .ok)
            let page = try await client.call(.get, path, key: owner.access)
            #expect(page.status == .ok, "\(page.json)")
            let entries = page.json["data"] as? [[String: Any]] ?? []
            #expect(
                entries.compactMap { $0["action"] as? String } == [
                    "workspace.invitation_accepted", "workspace.member_invited", "workspace.created",
                ], "the product's own plan change is not the workspace's business: \(entries)")
            #expect((entries[1]["after"] as? [String: Any])?["role"] as? String == "ADMIN")
            #expect(entries.allSatisfy { $0["workspaceId"] as? String == workspace })
            // An admin of the workspace does not read it; nor does a stranger learn it exists.
            #expect(try await client.call(.get, path, key: admin.access).status == .forbidden)
            let stranger = try await AccountTests.signUp(app, client, email: "stranger@example.com")
            #expect(try await client.call(.get, path, key: stranger.access).status == .notFound)
        }
    }

    /// The issue's tamper test: an entry edited in SQLite, one deleted in PostgreSQL, both behind
    /// the server's back; `tollgate audit verify` names the entry and fails.
    @Test(arguments: TestDatabase.all)
    func theVerifyCommandFindsTampering(database: TestDatabase) async throws {
        try await database.withLocation { location in
            let arguments = location.commandArguments()
            let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin"] + arguments).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let server = try await ServerProcess.start(arguments)
            for number in 1...4 {
                let created = try await server.request("POST", "v1/customers", key: key, json: #"{"id":"c\#(number)"}"#)
                #expect(created.status == 201)
            }
            server.stop()
            // The key made at the terminal, then the four customers.
            let intact = try await TollgateBinary.run(["audit", "verify"] + arguments)
            #expect(intact.status == 0 && intact.stdout.contains("intact: 5 entries"), "\(intact)")

            let store = try await SQLStore.open(location.location, logger: TestDatabase.logger)
            let tampering: SQLQueryString
            let expected: String
            if case .sqlite = location.location {
                tampering = "UPDATE audit_events SET target = 'customer:someone-else' WHERE seq = 2"
                expected = "entry #2 (aud_"
            } else {
                tampering = "DELETE FROM audit_events WHERE seq = 3"
                expected = "entry #3 was deleted"
            }
            try await store.provider.transaction { db in try await db.raw(tampering).run() }
            await store.shutdown()
            let broken = try await TollgateBinary.run(["audit", "verify"] + arguments)
            #expect(broken.status == 1 && broken.stdout.contains(expected), "\(broken)")
            if case .sqlite = location.location { #expect(broken.stdout.contains("was edited")) }
        }
    }
}
