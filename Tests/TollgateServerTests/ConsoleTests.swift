import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateNotify
import TollgateStorage
import TollgateWeb

@testable import TollgateServer

/// A page session in a test (an operator's, or an end user's in the portal): the cookie to send
/// and the token its forms carry.
struct PageSession {
    let cookie: String
    let csrf: String

    /// Sets an operator up as the setup page would (password, then the authenticator's code) and
    /// signs them in.
    static func open(_ app: AppHarness, role: OperatorRole, email: String) async throws -> PageSession {
        let service = OperatorService(
            store: app.store, box: app.dependencies.secretBox, clock: app.clock,
            passwordPolicy: app.dependencies.passwordPolicy)
        let (_, token) = try await service.create(email: email, role: role)
        let enrolment = try await service.enrolment(token: token)
        let totp = TOTP(secret: try app.dependencies.secretBox.open(enrolment.sealedSecret))
        let signIn = try await service.completeSetup(
            token: token, password: "a long operator passphrase", sealedSecret: enrolment.sealedSecret,
            code: totp.code(forStep: totp.step(at: app.clock.now())), address: "test")
        return PageSession(cookie: "tg_console=\(signIn.token)", csrf: signIn.session.csrfToken)
    }

    func get(_ client: some TestClientProtocol, _ path: String) async throws -> (
        HTTPResponse.Status, String, HTTPFields
    ) {
        let response = try await client.send(uri: path, method: .get, headers: [.cookie: cookie])
        return (response.status, String(buffer: response.body), response.headers)
    }

    /// A form post with the session's CSRF token (unless `csrf` is false).
    func post(_ client: some TestClientProtocol, _ path: String, _ fields: [(String, String)] = [], csrf: Bool = true)
        async throws -> (HTTPResponse.Status, String, HTTPFields)
    {
        let all = (csrf ? [("csrf", self.csrf)] : []) + fields
        let body = all.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.1)" }
            .joined(separator: "&")
        let response = try await client.send(
            uri: path, method: .post,
            headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: body))
        return (response.status, String(buffer: response.body), response.headers)
    }
}

@Suite struct ConsoleTests {
    static let trialCatalog = Fixtures.catalogYAML.replacingOccurrences(
        of: "  - id: pro\n    order: 1\n",
        with: "  - id: pro\n    order: 1\n    trial: { days: 14, requiresPaymentMethod: false }\n")

    /// Every form of the console with every role: allowed or 403, as `OperatorRole.may` says.
    @Test(arguments: TestDatabase.all)
    func everyFormFollowsTheRoles(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            #expect(
                try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"x"}"#).status
                    == .created)
            for role in OperatorRole.allCases {
                let session = try await PageSession.open(app, role: role, email: "\(role.rawValue)@example.com")
                for (route, access) in AuthorizationTableTests.table.sorted(by: { $0.key < $1.key }) {
                    guard case .console(let action) = access, route.hasPrefix("POST"), action != .read else { continue }
                    let (_, path) = AuthorizationTableTests.split(route)
                    let (status, page, headers) = try await session.post(client, path)
                    if role.may(action) {
                        #expect(status != .forbidden && status != .unauthorized, "\(role) \(route): \(status) \(page)")
                    } else {
                        #expect(status == .forbidden, "\(role) \(route): \(status)")
                        #expect(page.contains("may not"), "\(role) \(route)")
                    }
                    #expect(headers[.contentType]?.hasPrefix("text/html") == true || status == .seeOther)
                }
                for (route, access) in AuthorizationTableTests.table
                where access == .console(.read) && route.hasPrefix("GET") {
                    let (_, path) = AuthorizationTableTests.split(route)
                    let (status, _, _) = try await session.get(client, path)
                    #expect(
                        status == .ok || (status == .notFound && path.contains("/x")), "\(role) \(route): \(status)")
                }
            }
        }
    }

    @Test func formsNeedTheSessionsCSRFTokenAndPagesForbidFramingAndInlineCode() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let owner = try await PageSession.open(app, role: .owner, email: "owner@example.com")
            #expect(
                try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"c1"}"#).status
                    == .created)
            let (status, page, _) = try await owner.post(
                client, "/console/customers/c1/credits", [("amount", "5"), ("key", "k1")], csrf: false)
            #expect(status == .forbidden && page.contains("CSRF"))
            let wrong = try await owner.post(
                client, "/console/customers/c1/credits", [("csrf", "csrf_wrong"), ("amount", "5"), ("key", "k1")],
                csrf: false)
            #expect(wrong.0 == .forbidden)
            let balances = try await client.call(.get, "/v1/customers/c1/credits", key: app.adminKey)
            #expect(!"\(balances.json)".contains("balance = 5"), "\(balances.json)")
            for path in ["/console", "/console/login", "/console/customers/c1"] {
                let (_, _, headers) = try await owner.get(client, path)
                let policy = try #require(headers[.contentSecurityPolicy])
                #expect(!policy.contains("unsafe-inline") && policy.contains("script-src 'self'"))
                #expect(policy.contains("frame-ancestors 'none'"))
                #expect(headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                #expect(headers[.cacheControl] == "no-store")
            }
        }
    }

    @Test func namesAreTextAndEveryActionIsRecordedWithBeforeAndAfter() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let owner = try await PageSession.open(app, role: .owner, email: "owner@example.com")
            let evil = #"<img src=x onerror=alert(1)>"#
            let created = try await client.call(
                .post, "/v1/customers", key: app.adminKey,
                json: #"{"id":"c1","name":"\#(evil)","email":"c1@example.com"}"#)
            #expect(created.status == .created)
            for path in ["/console/customers/c1", "/console/customers?query=c1"] {
                let (status, page, _) = try await owner.get(client, path)
                #expect(status == .ok)
                #expect(!page.contains("<img") && page.contains("&lt;img src=x onerror=alert(1)&gt;"), "\(path)")
            }
            let (status, _, headers) = try await owner.post(client, "/console/customers/c1/plan", [("plan", "pro")])
            #expect(status == .seeOther && headers[.location] == "/console/customers/c1?notice=plan_changed")
            #expect(try await client.call(.get, "/v1/customers/c1", key: app.adminKey).json.string("plan") == "pro")
            app.clock.advance(by: 1)
            _ = try await owner.post(client, "/console/customers/c1/credits", [("amount", "7"), ("key", "form1")])
            // The same form sent twice grants once, and is recorded once.
            _ = try await owner.post(client, "/console/customers/c1/credits", [("amount", "7"), ("key", "form1")])
            let balances = try await client.call(.get, "/v1/customers/c1/credits", key: app.adminKey)
            let first = (balances.json["balances"] as? [[String: Any]])?.first
            #expect(first?["balance"] as? Int == 7, "\(balances.json)")
            app.clock.advance(by: 1)
            _ = try await owner.post(
                client, "/console/customers/c1/spend-cap", [("amount", "49,90"), ("currency", "EUR")])
            let customer = try await app.store.customer(id: "c1")
            #expect(customer?.spendCap == Money(4990, Currency("EUR")!))
            let actions = try await app.store.auditEvents(AuditQuery(limit: 10)).map(\.draft)
                .filter { $0.actor.kind == .operator && $0.action != "console.operator_set_up" }
            #expect(actions.map(\.action) == ["customer.spend_cap_set", "credits.granted", "customer.plan_changed"])
            // The same entry as the API's and the CLI's: the customer directory writes it.
            #expect(
                actions.last?.before == #"{"addOns":{},"plan":"free"}"#
                    && actions.last?.after == #"{"addOns":{},"plan":"pro"}"#)
            #expect(actions.allSatisfy { $0.target == "customer:c1" && $0.ip != nil && $0.actor.id != nil })
            // The console shows the trail, filtered; an empty field filters nothing.
            let (shown, trail, _) = try await owner.get(
                client, "/console/audit?actor=operator&target=customer:c1&action=")
            #expect(shown == .ok && trail.contains("customer.spend_cap_set") && trail.contains("customer.plan_changed"))
            let (_, filtered, _) = try await owner.get(client, "/console/audit?action=credits.granted")
            #expect(filtered.contains("credits.granted") && !filtered.contains("customer.plan_changed"))
            let (_, page, _) = try await owner.get(client, "/console/customers/c1")
            #expect(page.contains("49.90 EUR") && page.contains("+7"))
        }
    }

    @Test func aTrialIsExtendedThroughTheSubscriptionService() async throws {
        try await AppHarness.run(.sqlite, catalog: try CatalogLoader.load(yaml: Self.trialCatalog)) { app, client in
            let support = try await PageSession.open(app, role: .support, email: "support@example.com")
            #expect(
                try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"t1"}"#).status
                    == .created)
            let trial = try await client.call(
                .post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"t1","plan":"pro","currency":"EUR"}"#
            )
            #expect(trial.status == .created || trial.status == .ok, "\(trial.json)")
            let before = try #require(try await app.store.subscriptions(subject: "t1").first?.0.trialEnd)
            let (status, _, _) = try await support.post(client, "/console/customers/t1/trial", [("days", "7")])
            #expect(status == .seeOther)
            let after = try #require(try await app.store.subscriptions(subject: "t1").first?.0)
            #expect(after.trialEnd == before + 7 * 86_400 && after.currentPeriodEnd == before + 7 * 86_400)
            #expect(after.status == .trialing)
            // The extension is in the customer's history, with its new end.
            let (_, page, _) = try await support.get(client, "/console/customers/t1")
            #expect(page.contains("Trial extended to \(Formats.day(before + 7 * 86_400))"), "\(page)")
            let bad = try await support.post(client, "/console/customers/t1/trial", [("days", "0")])
            #expect(bad.0 == .badRequest && bad.1.contains("days"))
            #expect(bad.1.contains(#"<a href="/console/customers/t1">"#), "the way back is the customer's page")
        }
    }

    @Test func sessionsLapseWhenIdleAndSetupLinksWorkOnce() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let owner = try await PageSession.open(app, role: .owner, email: "owner@example.com")
            #expect(try await owner.get(client, "/console").0 == .ok)
            app.clock.advance(by: 29 * 60)
            #expect(try await owner.get(client, "/console").0 == .ok)
            app.clock.advance(by: 29 * 60)
            #expect(try await owner.get(client, "/console").0 == .ok, "each page keeps the session alive")
            app.clock.advance(by: 31 * 60)
            let lapsed = try await owner.get(client, "/console")
            #expect(lapsed.0 == .seeOther && lapsed.2[.location] == "/console/login")
            // Signing out ends the session at once, and is recorded.
            let fresh = try await PageSession.open(app, role: .viewer, email: "leaving@example.com")
            #expect(try await fresh.post(client, "/console/logout").0 == .seeOther)
            #expect(try await fresh.get(client, "/console").0 == .seeOther)
            let signedOut = try #require(try await app.store.auditEvents(AuditQuery(limit: 1)).first?.draft)
            #expect(signedOut.action == "console.signed_out" && signedOut.target?.hasPrefix("operator:op_") == true)
            #expect(signedOut.actor.kind == .operator && signedOut.target == "operator:\(signedOut.actor.id ?? "")")
            // An owner's invitation: a link shown once, usable once, not after 72 hours.
            let other = try await PageSession.open(app, role: .owner, email: "second@example.com")
            let (status, page, _) = try await other.post(
                client, "/console/operators", [("email", "new@example.com"), ("role", "viewer")])
            #expect(status == .created)
            let link = try #require(page.firstMatch(of: /\/console\/setup\?token=(tg_setup_[A-Za-z0-9_-]+)/))
            #expect(try await client.send(uri: String(link.0), method: .get).status == .ok)
            app.clock.advance(by: 73 * 3600)
            #expect(try await client.send(uri: String(link.0), method: .get).status == .notFound)
        }
    }

    /// A viewer reads a customer's invoices and downloads the PDF the API renders.
    @Test func invoicesLeadToTheirPDF() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let viewer = try await PageSession.open(app, role: .viewer, email: "viewer@example.com")
            #expect(
                try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"c1"}"#).status
                    == .created)
            let item = try await client.call(
                .post, "/v1/customers/c1/invoice-items", key: app.adminKey,
                json: #"{"description":"Setup","quantity":1,"unitAmount":5000,"currency":"EUR","idempotencyKey":"i1"}"#)
            #expect(item.status == .created)
            let draft = try await client.call(.post, "/v1/invoices", key: app.adminKey, json: #"{"customer":"c1"}"#)
            let id = try #require(draft.json.string("id"))
            #expect(try await client.call(.post, "/v1/invoices/\(id)/finalize", key: app.adminKey).status == .ok)
            let (_, page, _) = try await viewer.get(client, "/console/customers/c1")
            #expect(page.contains(#"href="/console/invoices/\#(id).pdf""#))
            let pdf = try await client.send(
                uri: "/console/invoices/\(id).pdf", method: .get, headers: [.cookie: viewer.cookie])
            #expect(pdf.status == .ok && pdf.headers[.contentType] == "application/pdf")
            #expect(String(buffer: pdf.body).hasPrefix("%PDF-"))
            // (execute: the response validator takes `{id}.pdf` for `{id}`, whose answer is JSON.)
            let api = try await client.execute(
                uri: "/v1/invoices/\(id).pdf", method: .get, headers: [.authorization: "Bearer \(app.adminKey)"])
            #expect(api.body == pdf.body, "the same document as the API's")
            #expect(
                try await client.send(
                    uri: "/console/invoices/nope.pdf", method: .get, headers: [.cookie: viewer.cookie]
                ).status == .notFound)
        }
    }

    /// An invoice's actions on the customer's page, as its status allows, through
    /// the API's service; paying it sends a receipt (`invoice.paid`, in the same transaction); a
    /// customer on a priced plan without a subscription is not "Free".
    @Test(arguments: TestDatabase.all)
    func invoicesAreActedOnFromTheCustomersPage(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let admin = try await PageSession.open(app, role: .admin, email: "admin@example.com")
            let support = try await PageSession.open(app, role: .support, email: "support@example.com")
            #expect(
                try await client.call(
                    .post, "/v1/customers", key: app.adminKey, json: #"{"id":"c1","email":"c1@example.com"}"#
                ).status == .created)
            func draft(_ key: String) async throws -> String {
                let item = try await client.call(
                    .post, "/v1/customers/c1/invoice-items", key: app.adminKey,
                    json: #"{"description":"Setup","quantity":1,"unitAmount":5000,"currency":"EUR","#
                        + #""idempotencyKey":"\#(key)"}"#)
                #expect(item.status == .created)
                let draft = try await client.call(.post, "/v1/invoices", key: app.adminKey, json: #"{"customer":"c1"}"#)
                return try #require(draft.json.string("id"))
            }
            let first = try await draft("i1")
            let (_, page, _) = try await admin.get(client, "/console/customers/c1")
            #expect(page.contains(#"action="/console/invoices/\#(first)/finalize""#))
            #expect(!page.contains(#"action="/console/invoices/\#(first)/pay""#), "a draft is not paid")
            #expect(!(try await support.get(client, "/console/customers/c1").1.contains("/finalize")), "admins only")
            #expect(try await support.post(client, "/console/invoices/\(first)/finalize").0 == .forbidden)

            let finalized = try await admin.post(client, "/console/invoices/\(first)/finalize")
            #expect(finalized.0 == .seeOther && finalized.2[.location] == "/console/customers/c1?notice=invoice_open")
            #expect(try await admin.get(client, "/console/customers/c1?notice=invoice_open").1.contains("finalized"))
            #expect(try await admin.post(client, "/console/invoices/\(first)/finalize").0 == .conflict)
            let paid = try await admin.post(client, "/console/invoices/\(first)/pay")
            #expect(paid.2[.location] == "/console/customers/c1?notice=invoice_paid")
            let invoice = try #require(try await app.store.invoice(id: first))
            #expect(invoice.status == .paid)
            let told = try await app.store.outboxMessages(recipient: "customer:c1").filter {
                $0.kind == "event.invoice.paid"
            }
            #expect(told.count == 1)
            let problems = try #require(OpenAPIResponseValidator.shared).problems(
                ofWebhook: Data((told.first?.payload ?? "").utf8))
            #expect(problems.isEmpty, "\(problems)")
            let receipts = try await EventFanOut(store: app.store).messages(
                for: try #require(told.first), type: "invoice.paid", at: app.clock.now())
            #expect(receipts.map(\.kind) == ["email.invoice_paid"] && receipts.first?.recipient == "c1@example.com")

            let credited = try await admin.post(
                client, "/console/invoices/\(first)/credit-notes", [("reason", "order_change"), ("key", "k1")])
            #expect(credited.2[.location] == "/console/customers/c1?notice=credit_note_issued")
            let again = try await admin.post(
                client, "/console/invoices/\(first)/credit-notes", [("reason", "order_change"), ("key", "k1")])
            #expect(again.0 == .seeOther, "the same form twice: the same note")
            #expect(try await app.store.creditNotes(invoiceId: first).count == 1)
            let badReason = try await admin.post(
                client, "/console/invoices/\(first)/credit-notes", [("reason", "whim"), ("key", "k2")])
            #expect(badReason.0 == .badRequest && badReason.1.contains("reason"))

            let second = try await draft("i2")
            #expect(try await admin.post(client, "/console/invoices/\(second)/void").0 == .conflict, "a draft")
            #expect(try await admin.post(client, "/console/invoices/\(second)/finalize").0 == .seeOther)
            let (_, open, _) = try await admin.get(client, "/console/customers/c1")
            #expect(open.contains(#"action="/console/invoices/\#(second)/void""#))
            #expect(try await admin.post(client, "/console/invoices/\(second)/void").0 == .seeOther)
            #expect(try await app.store.invoice(id: second)?.status == .void)
            let actions = try await app.store.auditEvents(AuditQuery(limit: 50)).filter {
                $0.draft.target == "invoice:\(first)"
            }.map(\.draft.action)
            #expect(
                Set(actions) == ["invoice.created", "invoice.finalized", "invoice.paid", "invoice.credit_note_issued"])

            // A priced plan given without a subscription.
            #expect(
                try await client.call(.put, "/v1/customers/c1/plan", key: app.adminKey, json: #"{"plan":"pro"}"#)
                    .status == .ok)
            let (_, given, _) = try await admin.get(client, "/console/customers/c1")
            #expect(given.contains(#"id="customer-status"><span class="badge unbilled">Paid plan, no subscription"#))
            let (_, listed, _) = try await admin.get(client, "/console/customers")
            #expect(listed.contains("Paid plan, no subscription"))
            // The overview's paying customers are one currency's; its status table says so.
            let (_, overview, _) = try await admin.get(client, "/console")
            #expect(overview.contains("Paying customers (EUR)"))
            #expect(
                overview.contains(
                    "Every customer, in every currency; the paying customers above are those billed in EUR."))
        }
    }

    /// E-mails and webhook messages on one page, filtered and paged, with the
    /// endpoint's URL and the event type, errors in words, and "Retry" only where it means
    /// something (never for mail already sent), followed by a notice.
    @Test(arguments: TestDatabase.all)
    func deliveriesShowWhatWasSentAndRetryWhatFailed(database: TestDatabase) async throws {
        try await AppHarness.run(database, configure: WebhookTests.allowPrivate) { app, client in
            let admin = try await PageSession.open(app, role: .admin, email: "admin@example.com")
            let now = app.clock.now()
            try await app.store.enqueueOutbox(
                ["msg_sent", "msg_failed"].map {
                    OutboxMessage(
                        id: $0, kind: "email.welcome", recipient: "\($0)@example.com", payload: "{}", createdAt: now)
                })
            let claimed = try await app.store.claimOutbox(
                node: "test", lane: .mail, now: now, limit: 10, leaseMillis: 60_000)
            #expect(Set(claimed.map(\.message.id)) == ["msg_sent", "msg_failed"])
            try await app.store.markOutboxDelivered(id: "msg_sent", at: now)
            try await app.store.markOutboxFailed(id: "msg_failed", error: "550 no such mailbox", retryAt: nil, at: now)

            // A webhook endpoint made on the console page, and 55 messages to it: two event types,
            // some refused by the receiver.
            let created = try await admin.post(
                client, "/console/webhooks",
                [("url", "http://127.0.0.1:9/hook"), ("eventType", "invoice.paid"), ("key", "form_1")])
            #expect(created.0 == .ok && created.1.contains(#"id="new-secret""#) && created.1.contains("whsec_"))
            let endpoint = try #require(try await app.store.webhookEndpoints().first)
            #expect(endpoint.eventTypes == ["invoice.paid"])
            var webhooks: [OutboxMessage] = []
            for index in 0..<55 {
                // The body an event has, as the outbox writes it.
                let type = index.isMultiple(of: 5) ? "invoice.paid" : "customer.created"
                let event = try OutboxEvent.message(
                    id: "evt_\(index)", type: type, subject: "customer:c1", data: ["index": index], at: now)
                webhooks.append(
                    OutboxMessage(
                        id: String(format: "msg_hook_%02d", index), kind: OutboxKind.webhook, recipient: endpoint.id,
                        payload: event.payload, createdAt: now.addingTimeInterval(Double(index + 1))))
            }
            try await app.store.enqueueOutbox(webhooks)
            for message in webhooks.prefix(3) {
                try await app.store.markOutboxFailed(
                    id: message.id, error: "the endpoint answered 500", retryAt: now.addingTimeInterval(60), at: now)
            }

            let (status, page, _) = try await admin.get(client, "/console/deliveries")
            #expect(status == .ok)
            #expect(page.contains("http://127.0.0.1:9/hook"), "the endpoint's URL, not its id")
            #expect(!page.contains("msg_failed@example.com"), "the newest 50 come first: the mail is on page 2")
            let next = try #require(
                page.firstMatch(of: /href="(\/console\/deliveries\?cursor=[^"]+)" rel="next"/)?.1)
            let (_, second, _) = try await admin.get(client, String(next).replacingOccurrences(of: "&amp;", with: "&"))
            #expect(second.contains("msg_failed@example.com") && second.contains("msg_sent@example.com"))
            #expect(second.contains("The mail server refused it (550)"), "the error in words")
            #expect(second.contains(#"title="550 no such mailbox""#), "the reason as sent, beside")
            #expect(second.contains(#"action="/console/deliveries/msg_failed/retry""#))
            #expect(!second.contains(#"action="/console/deliveries/msg_sent/retry""#), "mail already sent")
            #expect(second.contains("The receiver failed (HTTP 500)"))

            let (_, paid, _) = try await admin.get(client, "/console/deliveries?channel=webhook&type=invoice.paid")
            #expect(paid.components(separatedBy: "<tr data-id=").count - 1 == 11, "one message in five")
            #expect(!paid.contains("customer.created</code>") && !paid.contains("msg_sent@example.com"))
            let (_, mail, _) = try await admin.get(client, "/console/deliveries?channel=email&state=failed")
            #expect(mail.contains("msg_failed@example.com") && !mail.contains("msg_sent@example.com"))
            let (_, byEndpoint, _) = try await admin.get(client, "/console/deliveries?endpoint=\(endpoint.id)&state=")
            #expect(byEndpoint.contains("msg_hook_54") && !byEndpoint.contains("msg_sent@example.com"))
            #expect(try await admin.get(client, "/console/deliveries?state=lost").0 == .badRequest)
            #expect(try await admin.get(client, "/console/deliveries?type=nothing.happened").0 == .badRequest)

            // An event whose fan-out failed is listed too, and viewers see endpoints by id only (a
            // webhook URL may carry a token).
            let stuck = try OutboxEvent.message(
                id: "evt_stuck", type: "customer.created", subject: "customer:c1", data: ["n": 1], at: now)
            try await app.store.enqueueOutbox([stuck])
            try await app.store.markOutboxFailed(id: "evt_stuck", error: "no such table", retryAt: nil, at: now)
            let (_, events, _) = try await admin.get(client, "/console/deliveries?channel=event&state=failed")
            #expect(events.contains(#"data-id="evt_stuck""#) && events.contains("customer.created</code>"))
            let viewer = try await PageSession.open(app, role: .viewer, email: "viewer@example.com")
            let (_, viewed, _) = try await viewer.get(client, "/console/deliveries?channel=webhook")
            #expect(!viewed.contains("http://127.0.0.1:9/hook") && viewed.contains(endpoint.id))
            #expect(!viewed.contains("/console/webhooks"), "no tab to a page the viewer may not open")

            let retried = try await admin.post(client, "/console/deliveries/msg_failed/retry")
            #expect(retried.0 == .seeOther && retried.2[.location] == "/console/deliveries?notice=retried")
            let (_, noticed, _) = try await admin.get(client, "/console/deliveries?notice=retried")
            #expect(noticed.contains("The message is queued again"))
            #expect(try await app.store.outboxEntries(failedOnly: true, limit: 10).map(\.message.id) == ["evt_stuck"])
            #expect(try await admin.post(client, "/console/deliveries/msg_sent/retry").0 == .notFound)

            // A delivered webhook message can be sent again, until its endpoint is deleted (its
            // undelivered messages go with it; delivered ones stay, with nothing to send again to).
            try await app.store.markOutboxDelivered(id: "msg_hook_54", at: now)
            let (_, delivered, _) = try await admin.get(client, "/console/deliveries?state=delivered&channel=webhook")
            #expect(
                delivered.contains(#"action="/console/deliveries/msg_hook_54/retry""#)
                    && delivered.contains("Send again"))
            #expect(try await admin.post(client, "/console/webhooks/\(endpoint.id)/delete").0 == .seeOther)
            let (_, orphaned, _) = try await admin.get(client, "/console/deliveries?channel=webhook")
            #expect(orphaned.contains("msg_hook_54") && !orphaned.contains("msg_hook_53"))
            #expect(!orphaned.contains("/retry"))
        }
    }

    /// "at the limit" counts the customers whose counter reached their plan's
    /// quota, refused yet or not; reasons and features read as words, in the reader's language.
    @Test(arguments: TestDatabase.all)
    func theUsagePageCountsCustomersAtTheirLimit(database: TestDatabase) async throws {
        let yaml = Fixtures.catalogYAML.replacingOccurrences(
            of: "searches: { type: metered }",
            with: "searches: { type: metered, name: { en: Searches, fr: Recherches } }")
        try await AppHarness.run(database, catalog: try CatalogLoader.load(yaml: yaml)) { app, client in
            let viewer = try await PageSession.open(app, role: .viewer, email: "viewer@example.com")
            for (id, amount) in [("full", 100), ("half", 50), ("refused", 100)] {
                #expect(
                    try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"\#(id)"}"#)
                        .status == .created)
                #expect(
                    try await client.call(
                        .put, "/v1/customers/\(id)/plan", key: app.adminKey, json: #"{"plan":"pro"}"#
                    ).status == .ok)
                let consumed = try await client.call(
                    .post, "/v1/consume", key: app.adminKey,
                    json: #"{"customer":"\#(id)","feature":"searches","amount":\#(amount),"idempotencyKey":"a_\#(id)"}"#
                )
                #expect(consumed.status == .ok)
            }
            let refusal = try await client.call(
                .post, "/v1/consume", key: app.adminKey,
                json: #"{"customer":"refused","feature":"searches","idempotencyKey":"b_refused"}"#)
            #expect(refusal.json.string("reason") == "USER_QUOTA_EXHAUSTED")
            let quotas = CustomerListQuery.quotas(app.dependencies.catalog)
            let counts = try await app.store.customersAtLimit(quotas, now: app.clock.now())
            #expect(counts.first { $0.key.planId == "pro" && $0.key.feature == "searches" }?.value == 2)

            let (_, english, _) = try await viewer.get(client, "/console/usage")
            let row = try #require(english.firstMatch(of: /<tr><td>Searches<\/td><td>pro<\/td>(.*?)<\/tr>/)?.1)
            let cells = row.matches(of: /<td[^>]*>([^<]*)<\/td>/).map { String($0.1) }
            #expect(cells.count >= 8 && cells[4] == "2", "at the limit now: \(cells)")
            #expect(cells[5].hasPrefix("1 "), "refused at the limit this month: \(cells)")
            #expect(cells[6] == "Quota used up 1", "the reason in words: \(cells)")
            let (_, french, _) = try await viewer.get(client, "/console/usage?lang=fr")
            #expect(french.contains("<td>Recherches</td>") && french.contains("Quota épuisé 1"))
        }
    }

    /// Webhook endpoints managed on a page of their own, through the API's service.
    @Test func webhookEndpointsAreManagedOnTheirPage() async throws {
        try await AppHarness.run(.sqlite, configure: WebhookTests.allowPrivate) { app, client in
            let admin = try await PageSession.open(app, role: .admin, email: "admin@example.com")
            let viewer = try await PageSession.open(app, role: .viewer, email: "viewer@example.com")
            #expect(try await admin.get(client, "/console/webhooks").1.contains("No webhook endpoint yet."))
            let refused = try await admin.post(
                client, "/console/webhooks", [("url", "ftp://example.com/x"), ("key", "form_0")])
            #expect(refused.0 == .badRequest)
            #expect(try await app.store.webhookEndpoints().isEmpty)
            let fields = [("url", "http://127.0.0.1:9/a"), ("description", "<b>CRM</b>"), ("key", "form_1")]
            let created = try await admin.post(client, "/console/webhooks", fields)
            #expect(created.1.contains("&lt;b&gt;CRM&lt;/b&gt;") && !created.1.contains("<b>CRM</b>"))
            let endpoint = try #require(try await app.store.webhookEndpoints().first)
            #expect(endpoint.eventTypes.isEmpty, "none ticked: every type")
            let secret = try #require(created.1.firstMatch(of: /id="new-secret">(whsec_[^<]+)</)?.1)
            #expect(!(try await admin.get(client, "/console/webhooks").1.contains(String(secret))), "shown once")
            // The form sent again (a reload): one endpoint, its secret not shown twice.
            let again = try await admin.post(client, "/console/webhooks", fields)
            #expect(again.0 == .ok && again.1.contains("The endpoint was added.") && !again.1.contains("new-secret"))
            #expect(try await app.store.webhookEndpoints().count == 1)
            // Webhook URLs may carry tokens: viewers see neither the page nor the URLs.
            #expect(try await viewer.get(client, "/console/webhooks").0 == .forbidden)

            let disabled = try await admin.post(client, "/console/webhooks/\(endpoint.id)/disable")
            #expect(disabled.2[.location] == "/console/webhooks?notice=endpoint_disabled")
            #expect(try await app.store.webhookEndpoint(id: endpoint.id)?.disabledReason == "operator")
            let (_, page, _) = try await admin.get(client, "/console/webhooks?notice=endpoint_disabled")
            #expect(page.contains("The endpoint is disabled.") && page.contains("Disabled by an operator"))
            #expect(try await admin.post(client, "/console/webhooks/\(endpoint.id)/enable").0 == .seeOther)
            #expect(try await app.store.webhookEndpoint(id: endpoint.id)?.disabledAt == nil)
            let rotated = try await admin.post(client, "/console/webhooks/\(endpoint.id)/rotate-secret")
            let newSecret = try #require(rotated.1.firstMatch(of: /id="new-secret">(whsec_[^<]+)</)?.1)
            #expect(newSecret != secret)
            #expect(try await app.store.webhookEndpoint(id: endpoint.id)?.sealedPreviousSecret != nil)

            #expect(try await viewer.post(client, "/console/webhooks/\(endpoint.id)/delete").0 == .forbidden)
            #expect(try await admin.post(client, "/console/webhooks/\(endpoint.id)/delete").0 == .seeOther)
            #expect(try await app.store.webhookEndpoints().isEmpty)
            let actions = try await app.store.auditEvents(AuditQuery(limit: 20)).map(\.draft.action)
            #expect(
                Set(actions).isSuperset(of: [
                    "webhook_endpoint.created", "webhook_endpoint.changed", "webhook_endpoint.secret_rotated",
                    "webhook_endpoint.deleted",
                ]))
        }
    }

    /// The same cancellation from the API and the console: both ask the provider that runs the
    /// subscription through one billing façade, so a Stripe subscription goes to Stripe from either
    /// door (here Stripe is not configured, and both say so alike) and a manual one is canceled.
    @Test func aCancellationIsTheSameFromTheAPIAndTheConsole() async throws {
        try await AppHarness.run(.sqlite, catalog: try WorkspaceTests.memento) { app, client in
            let admin = try await PageSession.open(app, role: .admin, email: "admin@example.com")
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let t0 = app.clock.now()
            _ = try await StripeWebhookTests.deliver(
                client,
                StripeWebhookTests.subscriptionEvent(
                    "evt_1", type: "customer.subscription.created", created: t0, status: "active", periodStart: t0),
                signedAt: t0)
            #expect(try await app.store.subscriptions(subject: "u1").first?.provider == "stripe")
            let api = try await client.call(
                .post, "/v1/billing/cancel", key: app.adminKey, json: #"{"customer":"u1","atPeriodEnd":true}"#)
            let console = try await admin.post(client, "/console/customers/u1/cancel")
            #expect(api.status == .serviceUnavailable && console.0 == .serviceUnavailable, "\(api.json)")
            #expect(console.1.contains("Stripe is not configured"), "the console asked Stripe, as the API did")

            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u2"}"#)
            try await client.call(
                .post, "/v1/billing/subscriptions", key: app.adminKey,
                json: #"{"customer":"u2","plan":"pro","idempotencyKey":"s2"}"#)
            #expect(try await admin.post(client, "/console/customers/u2/cancel").0 == .seeOther)
            #expect(try await app.store.subscriptions(subject: "u2").first?.0.cancelAtPeriodEnd == true)
        }
    }

    @Test func theLastOwnerStays() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let owner = try await PageSession.open(app, role: .owner, email: "owner@example.com")
            let id = try #require(try await app.store.operatorAccount(email: "owner@example.com")?.id)
            let demote = try await owner.post(client, "/console/operators/\(id)/role", [("role", "admin")])
            #expect(demote.0 == .conflict)
            let remove = try await owner.post(client, "/console/operators/\(id)/remove")
            #expect(remove.0 == .conflict)
            #expect(try await app.store.operatorAccount(id: id)?.role == .owner)
        }
    }
}

/// A meter at 95 % reads as near its limit; a retention in days is a setting,
/// never drawn as a usage meter.
@Suite struct MeterLevelTests {
    @Test func aMeterIsNearFromNinetyPercentAndFullAtItsLimit() {
        func level(_ used: Int64, _ limit: Int64?) -> String? {
            CustomerDetailData.UsageRow(
                feature: "f", featureName: "F", used: used, limit: limit, period: nil, resetsAt: nil
            ).level
        }
        #expect(level(89, 100) == nil && level(90, 100) == "near" && level(95, 100) == "near")
        #expect(level(100, 100) == "full" && level(5, nil) == nil && level(0, 0) == nil)
    }

    @Test func aLimitInDaysIsASettingNotAMeter() throws {
        let catalog = try WorkspaceTests.memento
        #expect(catalog.feature("history_days")?.isSetting == true)
        #expect(catalog.feature("notes")?.isSetting == false && catalog.feature("chat")?.isSetting == false)
    }
}

/// Every status, provider, ledger reason and refusal reason reads as a word in
/// both languages, never as the stored value.
@Suite struct StoredWordsTests {
    @Test(arguments: ["en", "fr"])
    func everyStoredWordIsTranslated(locale: String) throws {
        let frame = ConsoleFrame(locale: locale, csrfToken: nil, section: "", path: "/", productName: "P")
        let words: [(String, [String])] = [
            ("invoice_status", InvoiceStatus.allCases.map(\.rawValue)),
            ("subscription_status", SubscriptionStatus.allCases.map(\.rawValue)),
            ("provider", ["manual", "stripe"]),
            ("credit_reason", CreditReason.allCases.map(\.rawValue)),
            ("denial", DenialReason.allCases.map(\.rawValue)),
            ("mail", Array(try MailTemplates.bundled().kinds(locale: "en"))),
            ("credit_note_reason", ["duplicate", "fraudulent", "order_change", "product_unsatisfactory"]),
        ]
        for (kind, values) in words {
            for value in values {
                let word = frame.word(kind, value)
                #expect(
                    !word.isEmpty && (word != value || value == "stripe"), "\(kind) \(value)")
            }
        }
        #expect(frame.word("invoice_status", "someday") == "someday", "an unknown value is shown as stored")
        #expect(frame.empty("invoices") == (locale == "fr" ? "Aucune facture" : "No invoices"))
    }
}

/// A delivery's failure in words; the raw reason when it is none the page knows.
@Suite struct DeliveryErrorWordsTests {
    @Test func reasonsReadAsWords() {
        let frame = ConsoleFrame(locale: "fr", csrfToken: nil, section: "", path: "/", productName: "P")
        #expect(frame.errorWords("the endpoint answered 503") == "Le destinataire a échoué (HTTP 503)")
        #expect(frame.errorWords("the endpoint answered 404") == "Le destinataire l’a refusé (HTTP 404)")
        #expect(frame.errorWords("no answer: HTTPClientError.connectTimeout") == "Pas de réponse à temps")
        #expect(
            frame.errorWords("no answer: connect(descriptor:addr:size:): Connection refused (errno: 111)")
                == "Rien ne répond à cette adresse")
        #expect(frame.errorWords("550 no such mailbox") == "Le serveur de messagerie l’a refusé (550)")
        #expect(frame.errorWords("the endpoint was deleted") == "L’adresse a été supprimée")
        #expect(frame.errorWords("something new") == "something new")
    }
}

/// Chart axes at round values.
@Suite struct ChartTickTests {
    @Test func ticksAreRoundAndCoverTheValues() {
        #expect(SVGChart.ticks(low: 0, high: 5_960) == [0, 2_000, 4_000, 6_000])
        #expect(SVGChart.ticks(low: 0, high: 4) == [0, 1, 2, 3, 4])
        #expect(SVGChart.ticks(low: 0, high: 7) == [0, 2, 4, 6, 8])
        #expect(SVGChart.ticks(low: 0, high: 0) == [0, 1])
        #expect(SVGChart.ticks(low: -150, high: 990) == [-500, 0, 500, 1_000])
    }
}
