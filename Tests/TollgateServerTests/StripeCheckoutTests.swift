import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateStorage

@testable import TollgateServer

/// Checkout, portal and cancel against a peer that checks Stripe's form fields.
@Suite struct StripeCheckoutTests {
    /// With Stripe Tax configured, Checkout computes VAT and collects VAT numbers;
    /// without it, neither is asked.
    @Test func checkoutAsksStripeForTaxWhenConfigured() async throws {
        let peer = StripePeer()
        try await peer.run { port in
            let client = StripeClient(secretKey: "sk_test_tollgate", baseURL: "http://127.0.0.1:\(port)")
            for taxed in [true, false] {
                try await AppHarness.run(
                    .sqlite, catalog: try WorkspaceTests.memento, stripe: client,
                    configure: {
                        $0.invoicing.stripe = InvoiceSettings.StripeTax(automaticTax: taxed, taxIdCollection: taxed)
                    }
                ) { app, http in
                    try await http.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
                    let checkout = try await http.call(
                        .post, "/v1/billing/checkout", key: app.adminKey,
                        json: #"{"customer":"u1","plan":"business","successUrl":"https://m.example/ok","#
                            + #""cancelUrl":"https://m.example/no","idempotencyKey":"t\#(taxed)"}"#)
                    #expect(checkout.status == .created, "\(checkout.json)")
                    let sent = try #require(peer.requests.last { $0.path == "/v1/checkout/sessions" })
                    #expect(sent.form["automatic_tax[enabled]"] == (taxed ? "true" : nil))
                    #expect(sent.form["tax_id_collection[enabled]"] == (taxed ? "true" : nil))
                    #expect(sent.form["customer_update[name]"] == (taxed ? "auto" : nil))
                    #expect(sent.form["customer_update[address]"] == (taxed ? "auto" : nil))
                }
            }
        }
    }

    @Test func checkoutPortalAndCancelSendWhatStripeExpects() async throws {
        let peer = StripePeer()
        try await peer.run { port in
            let client = StripeClient(secretKey: "sk_test_tollgate", baseURL: "http://127.0.0.1:\(port)")
            try await AppHarness.run(.sqlite, catalog: try WorkspaceTests.memento, stripe: client) { app, http in
                try await http.call(
                    .post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1","email":"ada@example.com"}"#)
                let urls =
                    #""successUrl":"https://memento.example/billing/ok","cancelUrl":"https://memento.example/billing""#
                let checkout = try await http.call(
                    .post, "/v1/billing/checkout", key: app.adminKey,
                    json: #"{"customer":"u1","plan":"pro",\#(urls),"idempotencyKey":"c1"}"#)
                #expect(
                    checkout.status == .created
                        && checkout.json.string("url") == "https://checkout.stripe.com/c/pay/cs_test_1",
                    "\(checkout.json)")
                let sent = try #require(peer.requests.first { $0.path == "/v1/checkout/sessions" })
                #expect(
                    sent.form["mode"] == "subscription" && sent.form["customer"] == "cus_test_1"
                        && sent.form["client_reference_id"] == "u1")
                #expect(
                    sent.form["line_items[0][price]"] == "price_pro_m_eur"
                        && sent.form["line_items[0][quantity]"] == "1")
                // Pro: a 14-day trial without a card.
                #expect(
                    sent.form["subscription_data[trial_period_days]"] == "14"
                        && sent.form["payment_method_collection"] == "if_required")
                #expect(
                    sent.form["subscription_data[metadata][tollgate_customer]"] == "u1"
                        && sent.idempotencyKey == "tollgate-checkout-u1-c1")
                let customer = try #require(peer.requests.first { $0.path == "/v1/customers" })
                #expect(
                    customer.form["metadata[tollgate_customer]"] == "u1" && customer.form["email"] == "ada@example.com")

                // Business has no trial; the Stripe customer is reused.
                _ = try await http.call(
                    .post, "/v1/billing/checkout", key: app.adminKey,
                    json: #"{"customer":"u1","plan":"business",\#(urls),"idempotencyKey":"c2"}"#)
                let business = try #require(peer.requests.last { $0.path == "/v1/checkout/sessions" })
                #expect(
                    business.form["subscription_data[trial_period_days]"] == nil
                        && business.form["line_items[0][price]"] == "price_business_m_eur")
                #expect(peer.requests.filter { $0.path == "/v1/customers" }.count == 1)
                // Enterprise: 20 seats billed at least; beyond 500, contact sales (nothing sent).
                _ = try await http.call(
                    .post, "/v1/billing/checkout", key: app.adminKey,
                    json: #"{"customer":"u1","plan":"enterprise","seats":8,\#(urls),"idempotencyKey":"c3"}"#)
                #expect(
                    peer.requests.last { $0.path == "/v1/checkout/sessions" }?.form["line_items[0][quantity]"] == "20")
                let before = peer.requests.count
                let tooMany = try await http.call(
                    .post, "/v1/billing/checkout", key: app.adminKey,
                    json: #"{"customer":"u1","plan":"enterprise","seats":501,\#(urls),"idempotencyKey":"c4"}"#)
                #expect(
                    tooMany.status == .badRequest && tooMany.json.errorField == "seats" && peer.requests.count == before
                )
                let noPrice = try await http.call(
                    .post, "/v1/billing/checkout", key: app.adminKey,
                    json: #"{"customer":"u1","plan":"pro","interval":"year",\#(urls),"idempotencyKey":"c5"}"#)
                #expect(noPrice.status == .conflict)
                #expect(
                    try await http.call(
                        .post, "/v1/billing/checkout", key: app.adminKey,
                        json:
                            #"{"customer":"u1","plan":"pro","successUrl":"ftp://x""#
                            + #","cancelUrl":"https://a.b","idempotencyKey":"c6"}"#
                    ).json.errorField == "successUrl")

                let portal = try await http.call(
                    .post, "/v1/billing/portal", key: app.adminKey,
                    json: #"{"customer":"u1","returnUrl":"https://memento.example/settings"}"#)
                #expect(
                    portal.status == .created
                        && portal.json.string("url") == "https://billing.stripe.com/p/session/test_1")
                #expect(
                    peer.requests.last?.form == [
                        "customer": "cus_test_1", "return_url": "https://memento.example/settings",
                    ])
                try await http.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u2"}"#)
                #expect(
                    try await http.call(
                        .post, "/v1/billing/portal", key: app.adminKey,
                        json: #"{"customer":"u2","returnUrl":"https://m.example"}"#
                    ).status == .notFound)

                // Cancel the live subscription at the period's end (it came in by webhook).
                let t0 = app.clock.now()
                _ = try await StripeWebhookTests.deliver(
                    http,
                    StripeWebhookTests.subscriptionEvent(
                        "evt_1", type: "customer.subscription.created", created: t0, status: "active", periodStart: t0),
                    signedAt: t0)
                let cancelled = try await http.call(
                    .post, "/v1/billing/cancel", key: app.adminKey, json: #"{"customer":"u1"}"#)
                #expect(cancelled.status == .ok && cancelled.json.string("subscription") == "sub_1")
                #expect(
                    peer.requests.last?.path == "/v1/subscriptions/sub_1"
                        && peer.requests.last?.form == ["cancel_at_period_end": "true"])
                _ = try await http.call(
                    .post, "/v1/billing/cancel", key: app.adminKey, json: #"{"customer":"u1","atPeriodEnd":false}"#)
                #expect(peer.requests.last?.method == "DELETE")
                #expect(
                    try await http.call(.post, "/v1/billing/cancel", key: app.adminKey, json: #"{"customer":"u2"}"#)
                        .status == .notFound)
            }
        }
    }

    @Test func withoutAStripeKeyBillingSaysSoInsteadOfFailing() async throws {
        try await AppHarness.run(.sqlite, catalog: try WorkspaceTests.memento) { app, http in
            try await http.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let (status, json) = try await http.call(
                .post, "/v1/billing/checkout", key: app.adminKey,
                json:
                    #"{"customer":"u1","plan":"pro","successUrl":"https://a.b""#
                    + #","cancelUrl":"https://a.b","idempotencyKey":"k"}"#
            )
            #expect(status == .serviceUnavailable && json.errorCode == "UNAVAILABLE")
        }
    }
}

@Suite struct CreditPackTests {
    /// Renzo sells credit packs through Checkout in payment mode; the grant appears once, even if
    /// the webhook comes twice.
    @Test(arguments: TestDatabase.all)
    func aPaidPackIsGrantedOnceHoweverOftenItsWebhookArrives(database: TestDatabase) async throws {
        let peer = StripePeer()
        try await peer.run { port in
            let client = StripeClient(secretKey: "sk_test_tollgate", baseURL: "http://127.0.0.1:\(port)")
            try await AppHarness.run(database, catalog: try CreditAPITests.renzo, stripe: client) { app, http in
                try await http.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"agent_1"}"#)
                let urls = #""successUrl":"https://renzo.example/ok","cancelUrl":"https://renzo.example/cart""#
                let checkout = try await http.call(
                    .post, "/v1/credits/packs/checkout", key: app.adminKey,
                    json: #"{"customer":"agent_1","pack":"pack_50",\#(urls),"idempotencyKey":"cart-1"}"#)
                #expect(checkout.status == .created, "\(checkout.json)")
                let sent = try #require(peer.requests.last { $0.path == "/v1/checkout/sessions" })
                #expect(
                    sent.form["mode"] == "payment" && sent.form["line_items[0][price]"] == "price_pack_50_eur"
                        && sent.form["metadata[tollgate_credit_pack]"] == "pack_50")
                #expect(sent.form["subscription_data[trial_period_days]"] == nil)
                #expect(
                    try await http.call(
                        .post, "/v1/credits/packs/checkout", key: app.adminKey,
                        json: #"{"customer":"agent_1","pack":"pack_9000",\#(urls),"idempotencyKey":"x"}"#
                    ).json.errorField == "pack")

                let t0 = app.clock.now()
                func completed(_ eventId: String) -> [String: Any] {
                    [
                        "id": eventId, "object": "event", "type": "checkout.session.completed",
                        "created": Int(t0.timeIntervalSince1970),
                        "data": [
                            "object": [
                                "id": "cs_test_pack_1", "object": "checkout.session", "mode": "payment",
                                "payment_status": "paid",
                                "customer": "cus_test_1", "client_reference_id": "agent_1",
                                "metadata": ["tollgate_customer": "agent_1", "tollgate_credit_pack": "pack_50"],
                            ]
                        ],
                    ]
                }
                #expect(
                    try await StripeWebhookTests.deliver(http, completed("evt_pack_1"), signedAt: t0).1["outcome"]
                        as? String == "applied")
                #expect(
                    try await StripeWebhookTests.deliver(http, completed("evt_pack_1"), signedAt: t0).1["outcome"]
                        as? String == "duplicate")
                // Even a different event about the same paid session grants nothing more.
                #expect(try await StripeWebhookTests.deliver(http, completed("evt_pack_2"), signedAt: t0).0 == .ok)
                let balances = try await http.call(.get, "/v1/customers/agent_1/credits", key: app.adminKey)
                // 5 from the free plan's starter pack, 50 bought once.
                #expect((balances.json["balances"] as? [[String: Any]])?.first?["balance"] as? Int == 55)
                let history = try #require(
                    try await http.call(.get, "/v1/customers/agent_1/credits/history", key: app.adminKey).json["data"]
                        as? [[String: Any]])
                #expect(history.filter { $0["reason"] as? String == "purchase" }.count == 1)
            }
        }
    }
}

/// Plan changes and add-on items on the Stripe provider, against the form-checking peer.
@Suite struct StripePlanChangeTests {
    @Test func upgradesAreInvoicedNowDowngradesWaitAndAddOnsFollowTheItems() async throws {
        let peer = StripePeer()
        try await peer.run { port in
            let client = StripeClient(secretKey: "sk_test_tollgate", baseURL: "http://127.0.0.1:\(port)")
            try await AppHarness.run(.sqlite, catalog: try WorkspaceTests.memento, stripe: client) { app, http in
                try await http.call(
                    .post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1","email":"ada@example.com"}"#)
                let urls = #""successUrl":"https://memento.example/ok","cancelUrl":"https://memento.example/no""#
                // Add-ons are further line items of the subscription's checkout.
                let checkout = try await http.call(
                    .post, "/v1/billing/checkout", key: app.adminKey,
                    json:
                        #"{"customer":"u1","plan":"business","addOns":{"collaborators_5":2}"#
                        + #",\#(urls),"idempotencyKey":"a1"}"#
                )
                #expect(checkout.status == .created, "\(checkout.json)")
                let sent = try #require(peer.requests.last { $0.path == "/v1/checkout/sessions" })
                #expect(
                    sent.form["line_items[1][price]"] == "price_collab5_m_eur"
                        && sent.form["line_items[1][quantity]"] == "2")
                let notSold = try await http.call(
                    .post, "/v1/billing/checkout", key: app.adminKey,
                    json:
                        #"{"customer":"u1","plan":"pro","addOns":{"collaborators_5":1},\#(urls),"idempotencyKey":"a2"}"#
                )
                #expect(notSold.status == .badRequest && notSold.json.errorField == "addOns.collaborators_5")

                let start = Date(timeIntervalSince1970: TimeInterval(StripePeer.periodStart))
                var now = app.clock.now()
                func deliver(
                    _ id: String, price: String, periodStart: Date, addOns: [(lookupKey: String, quantity: Int)] = []
                ) async throws {
                    now += 60
                    let event = StripeWebhookTests.subscriptionEvent(
                        id, type: "customer.subscription.updated", created: now, status: "active", price: price,
                        customer: "cus_test_1", periodStart: periodStart, addOns: addOns)
                    app.clock.set(now)
                    #expect(try await StripeWebhookTests.deliver(http, event, signedAt: now).0 == .ok)
                }
                // The items Stripe reports are the add-ons the workspace has.
                try await deliver(
                    "evt_1", price: "business_monthly_eur", periodStart: start,
                    addOns: [("collaborators_5_monthly_eur", 2)])
                #expect(try await app.store.customer(id: "u1")?.addOns == ["collaborators_5": 2])
                let collaborators = try await http.call(
                    .post, "/v1/check", key: app.adminKey,
                    json: #"{"customer":"u1","feature":"collaborators","amount":20}"#)
                #expect(collaborators.json["allowed"] as? Bool == true && collaborators.json["limit"] as? Int == 20)
                try await deliver("evt_2", price: "pro_monthly_eur", periodStart: start)
                let downgraded = try await app.store.customer(id: "u1")
                #expect(downgraded?.addOns == [:] && downgraded?.planId == "pro")

                // Upgrade: the plan item moves to the new price, invoiced now with Stripe's proration.
                let upgrade = try await http.call(
                    .post, "/v1/billing/change-plan", key: app.adminKey,
                    json: #"{"customer":"u1","plan":"business","idempotencyKey":"c1"}"#)
                #expect(upgrade.status == .ok && upgrade.json.string("effective") == "now", "\(upgrade.json)")
                let update = try #require(
                    peer.requests.last { $0.path == "/v1/subscriptions/sub_1" && $0.method == "POST" })
                #expect(
                    update.form["items[0][id]"] == "si_1" && update.form["items[0][price]"] == "price_business_m_eur")
                #expect(
                    update.form["proration_behavior"] == "always_invoice"
                        && update.idempotencyKey == "tollgate-change-sub_1-business-c1")
                #expect(try await app.store.customer(id: "u1")?.planId == "business")

                // Downgrade: Stripe bills the lower price from the next period; the plan stays until then.
                let downgrade = try await http.call(
                    .post, "/v1/billing/change-plan", key: app.adminKey,
                    json: #"{"customer":"u1","plan":"pro","idempotencyKey":"c2"}"#)
                #expect(downgrade.json.string("effective") == "period_end")
                #expect(peer.requests.last { $0.method == "POST" }?.form["proration_behavior"] == "none")
                #expect(try await app.store.customer(id: "u1")?.planId == "business")
                try await deliver("evt_3", price: "pro_monthly_eur", periodStart: start)
                #expect(
                    try await app.store.customer(id: "u1")?.planId == "business",
                    "Stripe's echo of the change does not end the paid period early")
                #expect(try await app.store.subscription(id: "sub_1")?.pendingPlanId == "pro")
                try await deliver("evt_4", price: "pro_monthly_eur", periodStart: start + 30 * 86_400)
                #expect(try await app.store.customer(id: "u1")?.planId == "pro")
                #expect(try await app.store.subscription(id: "sub_1")?.pendingPlanId == nil)
            }
        }
    }
}
