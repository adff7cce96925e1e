import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateStorage

@testable import TollgateServer

extension PageSession {
    /// Signs an end user in through the portal's form (`code`: the second factor, when on).
    static func portal(
        _ client: some TestClientProtocol, email: String, password: String = AccountTests.password, code: String? = nil
    ) async throws -> PageSession {
        let fields = [("email", email), ("password", password)] + (code.map { [("code", $0)] } ?? [])
        let answer = try await signIn(client, path: "/portal/login", fields)
        #expect(answer.status == .seeOther, "\(String(buffer: answer.body))")
        let setCookie = try #require(answer.headers[.setCookie], "no session cookie")
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax"))
        let cookie = String(try #require(setCookie.split(separator: ";").first))
        let page = try await client.send(uri: "/portal", method: .get, headers: [.cookie: cookie])
        return PageSession(cookie: cookie, csrf: try PortalTests.csrf(in: String(buffer: page.body)))
    }

    /// Posts a sign-in form as its page would: the page's guard cookie, and its value in the form.
    static func signIn(_ client: some TestClientProtocol, path: String, _ fields: [(String, String)]) async throws
        -> TestResponse
    {
        let page = try await client.send(uri: path, method: .get)
        let setCookie = try #require(page.headers[.setCookie], "the sign-in page sets its guard cookie")
        #expect(setCookie.contains("SameSite=Strict") && setCookie.contains("Path=\(path)"))
        let cookie = String(try #require(setCookie.split(separator: ";").first))
        let value = try #require(String(buffer: page.body).firstMatch(of: /name="signin" value="([0-9a-f.]+)"/)).1
        return try await client.send(
            uri: path, method: .post,
            headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
            body: ByteBuffer(string: encode([("signin", String(value))] + fields)))
    }

    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.1)" }
            .joined(separator: "&")
    }
}

/// The customer portal through the real router, on both databases: the
/// account pages, the meters, the paywall's way to a higher limit, workspaces by role, security,
/// and that a user reaches nothing of another's.
@Suite struct PortalTests {
    static func csrf(in page: String) throws -> String {
        let match = try #require(page.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/), "no CSRF token on the page")
        return String(match.1)
    }

    /// An account made and verified through the portal's pages.
    static func signUp(_ app: AppHarness, _ client: some TestClientProtocol, email: String) async throws {
        let signUp = try await client.send(
            uri: "/portal/signup", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: PageSession.encode([("email", email), ("password", AccountTests.password)])))
        #expect(signUp.status == .ok && String(buffer: signUp.body).contains("id=\"message\""))
        let token = try await AccountTests.emailToken(app.store, email, kind: "email.verify_email")
        let page = try await client.send(uri: "/portal/verify-email?token=\(token)", method: .get)
        #expect(String(buffer: page.body).contains("value=\"\(token)\""), "the link's page holds its token")
        let verified = try await client.send(
            uri: "/portal/verify-email", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: PageSession.encode([("token", token)])))
        #expect(verified.status == .ok)
        let again = try await client.send(
            uri: "/portal/verify-email", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: PageSession.encode([("token", token)])))
        #expect(again.status == .badRequest, "a link works once")
    }

    static func userId(_ store: any Storage, _ email: String) async throws -> String {
        try #require(try await store.user(email: email)).id
    }

    @Test(arguments: TestDatabase.all)
    func aRefusalLeadsToTheUpgradeThatRaisesTheLimit(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            try await Self.signUp(app, client, email: "ada@example.com")
            let ada = try await PageSession.portal(client, email: "ada@example.com")
            let id = try await Self.userId(app.store, "ada@example.com")
            let consumed = try await client.call(
                .post, "/v1/consume", key: app.adminKey,
                json: #"{"customer":"\#(id)","feature":"starter","amount":3,"idempotencyKey":"k1"}"#)
            #expect(consumed.status == .ok)
            var (status, page, _) = try await ada.get(client, "/portal")
            #expect(status == .ok && page.contains(#"<li data-feature="starter">"#))
            #expect(page.contains("3 / 5") && page.contains("Never resets"), "the lifetime starter pack")
            #expect(!page.contains("meter-upgrade"), "not used up yet")
            // The pack used up, its meter itself offers the plan that lifts it.
            let rest = try await client.call(
                .post, "/v1/consume", key: app.adminKey,
                json: #"{"customer":"\#(id)","feature":"starter","amount":2,"idempotencyKey":"k1b"}"#)
            #expect(rest.status == .ok)
            (_, page, _) = try await ada.get(client, "/portal")
            #expect(page.contains("All used, for good: this quota never resets."))
            #expect(
                page.contains(#"<a href="/portal/upgrade?feature=starter&amp;plan=pro">Upgrade to pro to keep going"#),
                "\(page)")
            let refused = try await client.call(
                .post, "/v1/consume", key: app.adminKey,
                json: #"{"customer":"\#(id)","feature":"searches","idempotencyKey":"k2"}"#)
            let tier = try #require(refused.json.string("upgradeTier"))
            (status, page, _) = try await ada.get(client, "/portal/upgrade?plan=\(tier)&feature=searches")
            #expect(status == .ok && page.contains(#"id="paywall""#) && page.contains("100 / month"))
            #expect(page.contains("9.90"), "the price billed from today: \(page)")
            let key = try #require(page.firstMatch(of: /name="key" value="([a-z0-9_]+)"/)).1
            let fields = [("plan", tier), ("interval", "month"), ("currency", "EUR"), ("key", String(key))]
            let (changed, _, headers) = try await ada.post(client, "/portal/upgrade", fields)
            #expect(changed == .seeOther && headers[.location] == "/portal?notice=subscribed")
            let (_, _, replayHeaders) = try await ada.post(client, "/portal/upgrade", fields)
            #expect(replayHeaders[.location] != nil, "the same form twice")
            #expect(try await app.store.subscriptions(subject: id).count == 1, "one subscription for one form")
            (_, page, _) = try await ada.get(client, "/portal")
            #expect(page.contains("0 / 100") && page.contains(#"id="current-plan">pro<"#))
            // Cancel at the period's end, then take it back.
            #expect(try await ada.post(client, "/portal/cancel").0 == .seeOther)
            (_, page, _) = try await ada.get(client, "/portal")
            #expect(page.contains("ends with the period") && page.contains(#"id="resume""#), "\(page)")
            #expect(try await ada.post(client, "/portal/resume").0 == .seeOther)
            let live = try #require(try await app.store.subscriptions(subject: id).first?.0)
            #expect(live.cancelAtPeriodEnd == false && live.status == .active)
            #expect(
                try await client.call(
                    .post, "/v1/consume", key: app.adminKey,
                    json: #"{"customer":"\#(id)","feature":"searches","idempotencyKey":"k3"}"#
                ).status == .ok, "the new limit holds in the API")

            // Up again: the proration is shown before, and charged as shown; down: at the period's end.
            app.clock.advance(by: 15 * 86_400)
            (_, page, _) = try await ada.get(client, "/portal/upgrade?plan=scale")
            let shown = try #require(page.firstMatch(of: /id="proration">[^<]*?([0-9.]+)[  ]EUR/), "\(page)").1
            let scaleKey = try #require(page.firstMatch(of: /name="key" value="([a-z0-9_]+)"/)).1
            _ = try await ada.post(
                client, "/portal/upgrade",
                [("plan", "scale"), ("interval", "month"), ("currency", "EUR"), ("key", String(scaleKey))])
            let charged = try #require(try await app.store.pendingInvoiceItems(subject: id).first)
            let minor = charged.amount.amountMinor
            #expect(
                "\(minor / 100).\(minor % 100 < 10 ? "0" : "")\(minor % 100)" == String(shown),
                "charged \(charged.amount), shown \(shown)")
            (_, page, _) = try await ada.get(client, "/portal/upgrade?plan=pro")
            #expect(page.contains("takes effect at the end of the current period"))
            let downKey = try #require(page.firstMatch(of: /name="key" value="([a-z0-9_]+)"/)).1
            let (_, _, down) = try await ada.post(
                client, "/portal/upgrade",
                [("plan", "pro"), ("interval", "month"), ("currency", "EUR"), ("key", String(downKey))])
            #expect(down[.location] == "/portal?notice=self_plan_scheduled")
            (_, page, _) = try await ada.get(client, "/portal?notice=self_plan_scheduled")
            #expect(page.contains(#"id="pending-plan">pro<"#) && page.contains(#"id="current-plan">scale<"#))
        }
    }

    @Test(arguments: TestDatabase.all)
    func twoFactorDevicesAndPassword(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            try await Self.signUp(app, client, email: "bo@example.com")
            let bo = try await PageSession.portal(client, email: "bo@example.com")
            let laptop = try await PageSession.portal(client, email: "bo@example.com")
            let (_, enrolling, _) = try await bo.post(client, "/portal/security/totp")
            #expect(enrolling.contains("<svg") && enrolling.contains(#"id="totp-qr""#))
            let secret = try #require(enrolling.firstMatch(of: /id="totp-secret">([A-Z2-7]+)</)).1
            let totp = TOTP(secret: try #require(Base32.decode(String(secret))))
            let code = { (at: Date) in totp.code(forStep: totp.step(at: at)) }
            let (wrong, retry, _) = try await bo.post(client, "/portal/security/totp/confirm", [("code", "000000")])
            #expect(wrong == .badRequest && retry.contains(String(secret)), "the same secret, to try again")
            let (_, confirmed, _) = try await bo.post(
                client, "/portal/security/totp/confirm", [("code", code(app.clock.now()))])
            let codes = confirmed.matches(of: /<li><code>([a-z0-9]{5}-[a-z0-9]{5})<\/code><\/li>/)
            #expect(codes.count == 10, "ten recovery codes, shown once")
            #expect(!(try await bo.get(client, "/portal/security").1.contains("<code>\(codes[0].1)</code>")))

            // Signing in now asks for the code, then takes it (once).
            let asked = try await PageSession.signIn(
                client, path: "/portal/login", [("email", "bo@example.com"), ("password", AccountTests.password)])
            #expect(asked.status == .ok && String(buffer: asked.body).contains(#"name="code""#))
            app.clock.advance(by: 30)
            let phone = try await PageSession.portal(client, email: "bo@example.com", code: code(app.clock.now()))

            // A new password, knowing the old one, signs every other device out.
            let (badCurrent, _, _) = try await bo.post(
                client, "/portal/password", [("current", "not it at all"), ("password", "another long passphrase 7")])
            #expect(badCurrent == .badRequest)
            let (changed, _, _) = try await bo.post(
                client, "/portal/password",
                [("current", AccountTests.password), ("password", "another long passphrase 7")])
            #expect(changed == .seeOther)
            #expect(try await bo.get(client, "/portal").0 == .ok, "this device stays")
            for other in [laptop, phone] {
                #expect(try await other.get(client, "/portal").0 == .seeOther, "other devices are signed out")
            }
            // Signing this device out from the list ends its cookie.
            let boId = try await Self.userId(app.store, "bo@example.com")
            let live = try await app.store.sessions(userId: boId, now: app.clock.now())
            #expect(live.count == 1, "only this device is left")
            let (revoked, _, _) = try await bo.post(client, "/portal/sessions/\(live[0].id)/revoke")
            let after = try await bo.get(client, "/portal").0
            #expect(revoked == .seeOther && after == .seeOther)
        }
    }

    @Test(arguments: TestDatabase.all)
    func workspaceFormsFollowRolesAndUsersStayApart(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            for email in ["owner@example.com", "viewer@example.com"] {
                try await Self.signUp(app, client, email: email)
            }
            let owner = try await PageSession.portal(client, email: "owner@example.com")
            let viewer = try await PageSession.portal(client, email: "viewer@example.com")
            let ownerId = try await Self.userId(app.store, "owner@example.com")
            let evil = "<img src=x onerror=alert(1)>"
            #expect(try await owner.post(client, "/portal/workspaces", [("name", evil)]).0 == .seeOther)
            var (_, page, _) = try await owner.get(client, "/portal/workspace")
            #expect(page.contains("&lt;img src=x onerror=alert(1)&gt;") && !page.contains(evil))
            let workspace = try #require(page.firstMatch(of: /data-workspace="(ws_[0-9a-f]+)"/)).1
            #expect(page.contains(#"class="invite""#))
            let (invited, _, _) = try await owner.post(
                client, "/portal/workspaces/\(workspace)/invite", [("email", "viewer@example.com"), ("role", "VIEWER")])
            #expect(invited == .seeOther)
            let token = try await AccountTests.emailToken(
                app.store, "viewer@example.com", kind: "email.workspace_invitation")
            (_, page, _) = try await viewer.get(client, "/portal/join?workspace=\(workspace)&token=\(token)")
            #expect(page.contains(#"id="join""#))
            let (joined, _, _) = try await viewer.post(
                client, "/portal/join", [("workspace", String(workspace)), ("token", token)])
            #expect(joined == .seeOther)

            (_, page, _) = try await viewer.get(client, "/portal/workspace")
            #expect(page.contains("Viewer") && !page.contains(#"class="invite""#), "no invite form for a viewer")
            let (forged, _, _) = try await viewer.post(
                client, "/portal/workspaces/\(workspace)/invite", [("email", "x@example.com"), ("role", "VIEWER")])
            #expect(forged == .forbidden, "a forged invitation is refused")
            #expect(
                try await viewer.post(client, "/portal/workspaces/\(workspace)/members/\(ownerId)/remove").0
                    == .forbidden)
            let (noToken, _, _) = try await owner.post(
                client, "/portal/workspaces/\(workspace)/invite", [("email", "y@example.com"), ("role", "VIEWER")],
                csrf: false)
            #expect(noToken == .forbidden, "a form without the CSRF token")
            // The workspace's billing is its owner's alone (manageBilling).
            #expect(try await viewer.get(client, "/portal/upgrade?workspace=\(workspace)&plan=pro").0 == .forbidden)
            let billing = [("plan", "pro"), ("interval", "month"), ("currency", "EUR"), ("key", "k1")]
            #expect(
                try await viewer.post(client, "/portal/upgrade", billing + [("workspace", String(workspace))]).0
                    == .forbidden)
            (_, page, _) = try await owner.get(client, "/portal/upgrade?workspace=\(workspace)&plan=pro")
            #expect(page.contains(#"name="workspace" value="\#(workspace)""#))
            let (bought, _, boughtAt) = try await owner.post(
                client, "/portal/upgrade", billing + [("workspace", String(workspace))])
            #expect(bought == .seeOther && boughtAt[.location] == "/portal/workspace?notice=subscribed")
            #expect(try await app.store.customer(id: String(workspace))?.planId == "pro")
            #expect(try await app.store.customer(id: ownerId)?.planId == "free", "the owner's own plan stays")
            // Another session's token is not this one's.
            let crossed = PageSession(cookie: owner.cookie, csrf: viewer.csrf)
            #expect(try await crossed.post(client, "/portal/workspaces", [("name", "x")]).0 == .forbidden)

            // The owner's invoice is not the viewer's to read.
            let item = #"{"description":"Setup","unitAmount":5000,"currency":"EUR","idempotencyKey":"setup"}"#
            #expect(
                try await client.call(.post, "/v1/customers/\(ownerId)/invoice-items", key: app.adminKey, json: item)
                    .status == .created)
            let invoice = try await client.call(
                .post, "/v1/invoices", key: app.adminKey, json: #"{"customer":"\#(ownerId)"}"#)
            let invoiceId = try #require(invoice.json.string("id"))
            _ = try await client.call(.post, "/v1/invoices/\(invoiceId)/finalize", key: app.adminKey, json: "{}")
            (_, page, _) = try await owner.get(client, "/portal/invoices")
            #expect(page.contains("/portal/invoices/\(invoiceId).pdf"))
            let mine = try await client.execute(
                uri: "/portal/invoices/\(invoiceId).pdf", method: .get, headers: [.cookie: owner.cookie])
            #expect(mine.status == .ok && mine.headers[.contentType] == "application/pdf")
            let theirs = try await client.execute(
                uri: "/portal/invoices/\(invoiceId).pdf", method: .get, headers: [.cookie: viewer.cookie])
            #expect(theirs.status == .notFound)
            (_, page, _) = try await viewer.get(client, "/portal/invoices")
            #expect(!page.contains(invoiceId))
        }
    }
}

/// The portal when Stripe takes the payments (against `StripePeer`, which checks Stripe's form
/// fields): a plan is bought through Stripe's checkout, changed in Stripe, and Stripe's own
/// portal holds the payment methods.
@Suite struct PortalStripeTests {
    @Test func aPlanIsBoughtThroughCheckoutAndChangedInStripe() async throws {
        let peer = StripePeer()
        try await peer.run { port in
            let client = StripeClient(secretKey: "sk_test_tollgate", baseURL: "http://127.0.0.1:\(port)")
            try await AppHarness.run(.sqlite, catalog: try WorkspaceTests.memento, stripe: client) { app, http in
                try await PortalTests.signUp(app, http, email: "ada@example.com")
                let ada = try await PageSession.portal(http, email: "ada@example.com")
                let id = try await PortalTests.userId(app.store, "ada@example.com")
                var (_, page, _) = try await ada.get(http, "/portal/upgrade?plan=business")
                #expect(page.contains("Stripe&#39;s secure page"))
                #expect(
                    page.firstMatch(of: /id="choose-enterprise" href="[^"]*">Contact sales<\/a>/) != nil,
                    "priced per seat: sold by the team")
                let key = try #require(page.firstMatch(of: /name="key" value="([a-z0-9_]+)"/)).1
                let (status, _, headers) = try await ada.post(
                    http, "/portal/upgrade",
                    [("plan", "business"), ("interval", "month"), ("currency", "EUR"), ("key", String(key))])
                #expect(status == .seeOther && headers[.location] == "https://checkout.stripe.com/c/pay/cs_test_1")
                let sent = try #require(peer.requests.last { $0.path == "/v1/checkout/sessions" })
                #expect(sent.form["client_reference_id"] == id)
                #expect(sent.form["success_url"]?.hasSuffix("/portal?notice=subscribed") == true)

                // Stripe tells of the subscription; the portal leads to Stripe's own portal.
                peer.subscriptionOwners.withLock { $0["sub_1"] = id }
                let now = app.clock.now()
                _ = try await StripeWebhookTests.deliver(
                    http,
                    StripeWebhookTests.subscriptionEvent(
                        "evt_1", type: "customer.subscription.created", created: now, status: "active",
                        price: "business_monthly_eur", customer: "cus_test_1", metadata: ["tollgate_customer": id],
                        periodStart: now),
                    signedAt: now)
                (_, page, _) = try await ada.get(http, "/portal")
                #expect(page.contains(#"id="current-plan">Business<"#) && page.contains(#"id="stripe-portal""#))
                #expect(page.contains(#"id="cancel""#), "Stripe's subscription is canceled here too, through Stripe")
                let (toStripe, _, portal) = try await ada.post(http, "/portal/payment")
                #expect(toStripe == .seeOther && portal[.location] == "https://billing.stripe.com/p/session/test_1")
                #expect(peer.requests.last?.form["return_url"]?.hasSuffix("/portal") == true)

                // A change of plan is made in Stripe.
                (_, page, _) = try await ada.get(http, "/portal/upgrade?plan=pro")
                #expect(page.contains("takes effect at the end of the current period"))
                let downKey = try #require(page.firstMatch(of: /name="key" value="([a-z0-9_]+)"/)).1
                let (changed, answer, _) = try await ada.post(
                    http, "/portal/upgrade",
                    [("plan", "pro"), ("interval", "month"), ("currency", "EUR"), ("key", String(downKey))])
                #expect(changed == .seeOther, "\(answer)")
                #expect(peer.requests.contains { $0.method == "POST" && $0.path == "/v1/subscriptions/sub_1" })
            }
        }
    }
}
