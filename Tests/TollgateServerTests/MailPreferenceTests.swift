import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateCore
import TollgateNotify
import TollgateStorage

@testable import TollgateServer

/// Readers turn alerts and notices off — from the mail's link (a page, then a
/// one-click POST) or signed in — and the fan-out then writes them no such mail; security mail
/// and webhooks go on.
@Suite struct MailPreferenceTests {
    static func fanOut(_ app: AppHarness) async throws -> [OutboxMessage] {
        var written: [OutboxMessage] = []
        for event in try await app.store.outboxMessages(recipient: "customer:c1") where event.deliveredAt == nil {
            guard let type = OutboxEvent.type(ofKind: event.kind) else { continue }
            let messages = try await EventFanOut(store: app.store).messages(for: event, type: type, at: app.clock.now())
            try await app.store.fanOut(eventId: event.id, into: messages, at: app.clock.now())
            written += messages
        }
        return written
    }

    @Test(arguments: TestDatabase.all)
    func theUnsubscribeLinkStopsAlertsButNotSecurityMail(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let key = app.adminKey
            try await client.call(
                .post, "/v1/customers", key: key, json: #"{"id":"c1","email":"Ada@Example.com","locale":"fr"}"#)
            try await client.call(.put, "/v1/customers/c1/plan", key: key, json: #"{"plan":"pro"}"#)
            try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"c1","feature":"searches","amount":80,"idempotencyKey":"a"}"#)
            let first = try await Self.fanOut(app).filter { $0.kind == "email.usage_alert" }
            #expect(first.map(\.recipient) == ["ada@example.com"], "addresses are stored lowercased")
            let renderer = MessageRenderer(
                settings: MailSettings(
                    productName: "Test", from: "Test <no-reply@test.example>",
                    linkBase: URL(string: "https://app.test.example")!, catalog: app.dependencies.catalog),
                box: app.dependencies.secretBox, templates: try MailTemplates.bundled())
            let mail = try renderer.render(try #require(first.first))
            #expect(mail.subject.hasPrefix("Vous avez utilisé 80 %"), "the customer's locale: \(mail.subject)")
            let link = try #require(mail.unsubscribe)
            let target = try #require(URLComponents(url: link, resolvingAgainstBaseURL: false))
            #expect(target.path == "/v1/mail/unsubscribe")
            let uri = target.path + "?" + (target.percentEncodedQuery ?? "")

            // The page only asks; it escapes what it shows.
            let page = try await client.send(uri: uri, method: .get)
            #expect(page.status == .ok && String(buffer: page.body).contains("ada@example.com"))
            #expect(page.headers[.cacheControl] == "no-store", "a page with someone's address is not cached")
            // In the reader's language.
            let french = try await client.send(uri: uri, method: .get, headers: [.acceptLanguage: "fr-FR,fr;q=0.9"])
            #expect(String(buffer: french.body).contains("Ne plus envoyer d’alertes ni d’avis à"))
            #expect(String(buffer: french.body).contains(#"<html lang="fr">"#))
            #expect(try await app.store.unsubscribed(among: ["ada@example.com"]).isEmpty, "a GET changes nothing")
            let done = try await client.send(
                uri: uri, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "List-Unsubscribe=One-Click"))
            #expect(done.status == .ok && String(buffer: done.body).contains(#""notices":false"#))

            try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"c1","feature":"searches","amount":20,"idempotencyKey":"b"}"#)
            let second = try await Self.fanOut(app)
            #expect(!second.contains { $0.kind.hasPrefix("email.") }, "no alert to an unsubscribed reader")
            #expect(
                try await app.store.outboxMessages(recipient: "customer:c1").contains {
                    $0.kind == "event.usage.limit_reached"
                }, "the event itself is still told (webhooks)")

            let forged = try await client.call(.post, "/v1/mail/unsubscribe?token=bm90LWEtdG9rZW4=", key: nil)
            #expect(forged.status == .badRequest && forged.json.errorField == "token")
        }
    }

    /// A workspace's pool: its alerts go to the owner and the admins, not to members.
    @Test(arguments: TestDatabase.all)
    func aWorkspacePoolsAlertsGoToItsOwnerAndAdmins(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            let owner = try await WorkspaceTests.person(app, client, "owner")
            let workspace = try await WorkspaceTests.createWorkspace(client, owner, plan: "business", app: app)
            _ = try await WorkspaceTests.join(
                client, app, workspace: workspace, owner: owner, name: "admin", role: "ADMIN")
            _ = try await WorkspaceTests.join(
                client, app, workspace: workspace, owner: owner, name: "member", role: "MEMBER")
            let event = try OutboxEvent.message(
                id: "evt_ws", type: "usage.limit_reached", subject: "customer:\(workspace)",
                data: UsageAlert(
                    key: CounterKey(subject: "customer:\(workspace)", feature: "chat", periodStartMillis: 0),
                    percent: 100, limit: 10, used: 10, periodEnd: nil),
                at: app.clock.now())
            let mails = try await EventFanOut(store: app.store).messages(
                for: event, type: "usage.limit_reached", at: app.clock.now())
            #expect(mails.map(\.recipient) == ["owner@example.com", "admin@example.com"])
            #expect(mails.allSatisfy { $0.kind == "email.usage_alert" })
        }
    }

    @Test(arguments: TestDatabase.all)
    func signedInUsersSetTheirPreference(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let user = try await AccountTests.signUp(app, client, email: "grace@example.com")
            let read = try await client.call(.get, "/v1/me/mail-preferences", key: user.access)
            #expect(read.json.string("address") == "grace@example.com" && read.json["notices"] as? Bool == true)
            let off = try await client.call(
                .put, "/v1/me/mail-preferences", key: user.access, json: #"{"notices":false}"#)
            #expect(off.json["notices"] as? Bool == false)
            #expect(try await app.store.unsubscribed(among: ["GRACE@example.com"]) == ["grace@example.com"])
            let on = try await client.call(
                .put, "/v1/me/mail-preferences", key: user.access, json: #"{"notices":true}"#)
            #expect(on.json["notices"] as? Bool == true)
            #expect(try await app.store.unsubscribed(among: ["grace@example.com"]).isEmpty)
        }
    }
}
