import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateCore
import TollgateStorage

@testable import TollgateServer

/// An e-mail change is confirmed from the new address; until then the account
/// keeps its address. Through the API and the portal, on both databases.
@Suite struct EmailChangeTests {
    @Test(arguments: TestDatabase.all)
    func aNewAddressIsConfirmedFromItsOwnMailbox(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let ada = try await AccountTests.signUp(app, client, email: "ada@example.com")
            let wrong = try await client.call(
                .post, "/v1/me/email", key: ada.access, json: #"{"email":"ada@new.example","password":"wrong-one"}"#)
            #expect(wrong.status == .unauthorized && wrong.json.errorCode == "INVALID_CREDENTIALS")
            let same = try await client.call(
                .post, "/v1/me/email", key: ada.access,
                json: #"{"email":"Ada@Example.com","password":"\#(AccountTests.password)"}"#)
            #expect(same.status == .badRequest && same.json.errorField == "email")
            let requested = try await client.call(
                .post, "/v1/me/email", key: ada.access,
                json: #"{"email":"Ada@New.Example","password":"\#(AccountTests.password)"}"#)
            #expect(requested.status == .accepted && requested.json.string("email") == "ada@new.example")
            // Nothing changes until the new mailbox answers.
            #expect(try await client.call(.get, "/v1/me", key: ada.access).json.string("email") == "ada@example.com")
            let token = try await AccountTests.emailToken(app.store, "ada@new.example", kind: "email.change_email")
            let confirmed = try await client.call(
                .post, "/v1/auth/email-change/confirm", key: nil, json: #"{"token":"\#(token)"}"#)
            #expect(confirmed.status == .ok && confirmed.json.string("email") == "ada@new.example")
            #expect(confirmed.json["emailVerified"] as? Bool == true)
            let again = try await client.call(
                .post, "/v1/auth/email-change/confirm", key: nil, json: #"{"token":"\#(token)"}"#)
            #expect(again.status == .unauthorized && again.json.errorCode == "INVALID_TOKEN", "a link works once")
            // The old address is told; the account and its customer use the new one.
            let told = try await app.store.outboxMessages(recipient: "ada@example.com").map(\.kind)
            #expect(told.contains("email.email_changed"))
            #expect(try await client.call(.get, "/v1/me", key: ada.access).json.string("email") == "ada@new.example")
            let customer = try await client.call(.get, "/v1/customers/\(ada.id)", key: app.adminKey)
            #expect(customer.json.string("email") == "ada@new.example")
            let oldSignIn = try await client.call(
                .post, "/v1/auth/login", key: nil,
                json: #"{"email":"ada@example.com","password":"\#(AccountTests.password)"}"#)
            #expect(oldSignIn.status == .unauthorized)
            let newSignIn = try await client.call(
                .post, "/v1/auth/login", key: nil,
                json: #"{"email":"ada@new.example","password":"\#(AccountTests.password)"}"#)
            #expect(newSignIn.status == .ok)
            // The trail has both steps, as the account's own acts.
            var query = AuditQuery()
            query.concerning = ada.id
            let actions = try await app.store.auditEvents(query).map(\.draft.action)
            #expect(actions.contains("account.email_changed") && actions.contains("account.email_change_requested"))

            // An address another account takes before the link is followed stays theirs.
            let bob = try await AccountTests.signUp(app, client, email: "bob@example.com")
            _ = try await client.call(
                .post, "/v1/me/email", key: bob.access,
                json: #"{"email":"carol@example.com","password":"\#(AccountTests.password)"}"#)
            let bobsLink = try await AccountTests.emailToken(app.store, "carol@example.com", kind: "email.change_email")
            _ = try await AccountTests.signUp(app, client, email: "carol@example.com")
            let taken = try await client.call(
                .post, "/v1/auth/email-change/confirm", key: nil, json: #"{"token":"\#(bobsLink)"}"#)
            #expect(taken.status == .conflict && taken.json.errorCode == "EMAIL_TAKEN")
            #expect(try await client.call(.get, "/v1/me", key: bob.access).json.string("email") == "bob@example.com")
        }
    }

    @Test(arguments: TestDatabase.all)
    func thePortalAsksForTheNewAddressAndItsLinkOpensAPage(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            try await PortalTests.signUp(app, client, email: "ada@example.com")
            let ada = try await PageSession.portal(client, email: "ada@example.com")
            let security = try await client.send(uri: "/portal/security", method: .get, headers: [.cookie: ada.cookie])
            #expect(String(buffer: security.body).contains("ada@example.com"))
            let wrong = try await ada.post(
                client, "/portal/email", [("email", "ada@new.example"), ("email_password", "wrong-one")])
            #expect(wrong.0 == .badRequest)
            let sent = try await ada.post(
                client, "/portal/email", [("email", "ada@new.example"), ("email_password", AccountTests.password)])
            #expect(sent.0 == .seeOther && sent.2[.location] == "/portal/security?notice=email_change_sent")
            let token = try await AccountTests.emailToken(app.store, "ada@new.example", kind: "email.change_email")
            let page = try await client.send(uri: "/portal/confirm-email?token=\(token)", method: .get)
            #expect(
                String(buffer: page.body).contains("value=\"\(token)\""), "a scanner opening the link spends nothing")
            #expect(try await app.store.user(email: "ada@example.com") != nil)
            let form = [.contentType: "application/x-www-form-urlencoded"] as HTTPFields
            let confirmed = try await client.send(
                uri: "/portal/confirm-email", method: .post, headers: form,
                body: ByteBuffer(string: PageSession.encode([("token", token)])))
            #expect(confirmed.status == .ok)
            #expect(try await app.store.user(email: "ada@new.example") != nil)
            let again = try await client.send(
                uri: "/portal/confirm-email", method: .post, headers: form,
                body: ByteBuffer(string: PageSession.encode([("token", token)])))
            #expect(again.status == .badRequest)
        }
    }
}
