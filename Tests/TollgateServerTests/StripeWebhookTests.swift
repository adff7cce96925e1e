import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateStorage

@testable import TollgateServer

@Suite struct StripeWebhookTests {
    /// Posts `event` signed as Stripe signs it.
    static func deliver(
        _ client: some TestClientProtocol, _ event: [String: Any], secret: String = AppHarness.webhookSecret,
        signedAt: Date, tamper: Bool = false
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        var payload = try JSONSerialization.data(withJSONObject: event, options: .sortedKeys)
        let header = StripeSignatureVerifier.header(
            payload: payload, secret: secret, timestamp: Int64(signedAt.timeIntervalSince1970))
        if tamper {
            payload = Data(
                String(decoding: payload, as: UTF8.self).replacingOccurrences(
                    of: "pro_monthly_eur", with: "business_monthly_eur"
                ).utf8)
        }
        let response = try await client.send(
            uri: "/v1/billing/webhook", method: .post,
            headers: [HTTPField.Name("Stripe-Signature")!: header, .contentType: "application/json"],
            body: ByteBuffer(bytes: payload))
        let json =
            (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
        return (response.status, json)
    }

    static func subscriptionEvent(
        _ id: String, type: String, created: Date, status: String, legacyPlan: Bool = false,
        price: String = "pro_monthly_eur",
        customer: String = "cus_1", metadata: [String: String] = ["tollgate_customer": "u1"], periodStart: Date,
        cancelAtPeriodEnd: Bool = false,
        addOns: [(lookupKey: String, quantity: Int)] = []
    ) -> [String: Any] {
        var object: [String: Any] = [
            "id": "sub_1", "object": "subscription", "customer": customer, "status": status, "metadata": metadata,
            "current_period_start": Int(periodStart.timeIntervalSince1970),
            "current_period_end": Int(periodStart.timeIntervalSince1970) + 31 * 86_400,
            "cancel_at_period_end": cancelAtPeriodEnd,
        ]
        if legacyPlan {
            object["plan"] = ["id": price, "object": "plan", "interval": "month", "currency": "eur", "amount": 990]
        } else {
            let items: [[String: Any]] =
                [
                    [
                        "id": "si_1", "quantity": 1,
                        "price": [
                            "id": "price_123", "lookup_key": price, "currency": "eur",
                            "recurring": ["interval": "month"],
                        ],
                    ]
                ]
                + addOns.enumerated().map { index, addOn in
                    [
                        "id": "si_\(index + 2)", "quantity": addOn.quantity,
                        "price": [
                            "id": "price_addon_\(index)", "lookup_key": addOn.lookupKey, "currency": "eur",
                            "recurring": ["interval": "month"],
                        ],
                    ]
                }
            object["items"] = ["object": "list", "data": items]
        }
        return [
            "id": id, "object": "event", "type": type, "created": Int(created.timeIntervalSince1970),
            "data": ["object": object],
        ]
    }

    func plan(_ client: some TestClientProtocol, _ app: AppHarness) async throws -> String? {
        try await client.call(.get, "/v1/customers/u1", key: app.adminKey).json.string("plan")
    }

    @Test(arguments: TestDatabase.all)
    func entitlementsFollowEveryWebhookInAnyOrderAndOnce(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let t0 = app.clock.now()
            let created = Self.subscriptionEvent(
                "evt_1", type: "customer.subscription.created", created: t0, status: "active", legacyPlan: true,
                periodStart: t0)
            let (status, json) = try await Self.deliver(client, created, signedAt: t0)
            #expect(status == .ok && json["outcome"] as? String == "applied")
            #expect(try await plan(client, app) == "pro")
            #expect(try await Self.deliver(client, created, signedAt: t0).1["outcome"] as? String == "duplicate")

            // Payment fails: past due, entitlements kept during the grace period.
            let failed = Self.subscriptionEvent(
                "evt_3", type: "customer.subscription.updated", created: t0 + 20, status: "past_due", periodStart: t0)
            #expect(try await Self.deliver(client, failed, signedAt: t0 + 20).1["outcome"] as? String == "applied")
            #expect(try await plan(client, app) == "pro")
            // An older event arriving late does not undo it.
            let late = Self.subscriptionEvent(
                "evt_2", type: "customer.subscription.updated", created: t0 + 10, status: "active", periodStart: t0)
            #expect(try await Self.deliver(client, late, signedAt: t0 + 20).1["outcome"] as? String == "stale")
            #expect(try await app.store.subscription(id: "sub_1")?.status == .pastDue)

            let paid: [String: Any] = [
                "id": "evt_4", "object": "event", "type": "invoice.paid", "created": Int(t0.timeIntervalSince1970) + 30,
                "data": ["object": ["id": "in_1", "object": "invoice", "subscription": "sub_1", "customer": "cus_1"]],
            ]
            #expect(try await Self.deliver(client, paid, signedAt: t0 + 30).1["outcome"] as? String == "applied")
            #expect(try await app.store.subscription(id: "sub_1")?.status == .active)

            let upgraded = Self.subscriptionEvent(
                "evt_5", type: "customer.subscription.updated", created: t0 + 40, status: "active",
                price: "business_monthly_eur", periodStart: t0)
            _ = try await Self.deliver(client, upgraded, signedAt: t0 + 40)
            #expect(try await plan(client, app) == "business")
            // Entitlements follow at once, through the metering cache too.
            let check = try await client.call(
                .post, "/v1/check", key: app.adminKey, json: #"{"customer":"u1","feature":"web_scraper_agent"}"#)
            #expect(check.json["allowed"] as? Bool == true)

            let deleted = Self.subscriptionEvent(
                "evt_6", type: "customer.subscription.deleted", created: t0 + 50, status: "canceled",
                price: "business_monthly_eur", periodStart: t0)
            _ = try await Self.deliver(client, deleted, signedAt: t0 + 50)
            #expect(try await plan(client, app) == "basic")
        }
    }

    @Test(arguments: TestDatabase.all)
    func unsignedTamperedStaleAndRotatedSignatures(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let t0 = app.clock.now()
            let event = Self.subscriptionEvent(
                "evt_1", type: "customer.subscription.created", created: t0, status: "active", periodStart: t0)
            let tampered = try await Self.deliver(client, event, signedAt: t0, tamper: true)
            #expect(
                tampered.0 == .badRequest
                    && (tampered.1["error"] as? [String: Any])?["code"] as? String == "INVALID_SIGNATURE")
            #expect(try await Self.deliver(client, event, signedAt: t0 - 301).0 == .badRequest)
            #expect(try await Self.deliver(client, event, secret: "whsec_unknown", signedAt: t0).0 == .badRequest)
            let unsigned = try await client.send(
                uri: "/v1/billing/webhook", method: .post,
                body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: event)))
            #expect(unsigned.status == .badRequest)
            #expect(try await plan(client, app) == "basic", "nothing unsigned or tampered was applied")
            // Signed with the previous secret during a rotation: accepted.
            #expect(try await Self.deliver(client, event, secret: AppHarness.oldWebhookSecret, signedAt: t0).0 == .ok)
            #expect(try await plan(client, app) == "pro")
        }
    }

    @Test(arguments: TestDatabase.all)
    func aSubscriptionForAnUnlinkedCustomerIsRetriedUntilCheckoutLinksIt(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let t0 = app.clock.now()
            let event = Self.subscriptionEvent(
                "evt_9", type: "customer.subscription.created", created: t0, status: "trialing", customer: "cus_42",
                metadata: [:], periodStart: t0)
            let early = try await Self.deliver(client, event, signedAt: t0)
            #expect(early.0 == .serviceUnavailable, "a 5xx makes Stripe retry, and the event is not marked as seen")
            let checkout: [String: Any] = [
                "id": "evt_8", "object": "event", "type": "checkout.session.completed",
                "created": Int(t0.timeIntervalSince1970),
                "data": [
                    "object": [
                        "id": "cs_1", "object": "checkout.session", "customer": "cus_42", "client_reference_id": "u1",
                        "mode": "subscription",
                    ]
                ],
            ]
            #expect(try await Self.deliver(client, checkout, signedAt: t0).0 == .ok)
            #expect(try await Self.deliver(client, event, signedAt: t0 + 60).1["outcome"] as? String == "applied")
            #expect(try await plan(client, app) == "pro")
            // A price that maps to no plan is acknowledged and ignored.
            let foreign = Self.subscriptionEvent(
                "evt_10", type: "customer.subscription.updated", created: t0 + 70, status: "active",
                price: "gold_monthly_eur", periodStart: t0)
            #expect(try await Self.deliver(client, foreign, signedAt: t0 + 70).1["outcome"] as? String == "ignored")
            #expect(try await plan(client, app) == "pro")
        }
    }
}

@Suite struct MeUsageTests {
    @Test(arguments: TestDatabase.all)
    func endUsersSeeTheirOwnEntitlementsUsageAndSubscription(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            let ada = try await WorkspaceTests.person(app, client, "ada")
            _ = try await client.call(
                .post, "/v1/consume", key: app.adminKey,
                json: #"{"customer":"\#(ada.id)","feature":"semantic_search","amount":12,"idempotencyKey":"s"}"#)
            let entitlements = try await client.call(.get, "/v1/me/entitlements", key: ada.access)
            #expect(
                entitlements.status == .ok && (entitlements.json["plan"] as? [String: Any])?["id"] as? String == "basic"
            )
            let current = try await client.call(.get, "/v1/me/usage/current", key: ada.access)
            let meters = try #require(current.json["usage"] as? [[String: Any]])
            let search = try #require(meters.first { $0["feature"] as? String == "semantic_search" })
            #expect(
                search["used"] as? Int == 12 && search["limit"] as? Int == 30 && search["percentUsed"] as? Int == 40)
            #expect(!meters.contains { $0["feature"] as? String == "chat" }, "features the plan lacks have no meter")
            let history = try await client.call(.get, "/v1/me/usage/history", key: ada.access)
            #expect(
                (history.json["usage"] as? [[String: Any]])?.first { $0["feature"] as? String == "semantic_search" }?[
                    "used"] as? Int == 12)
            let none = try await client.call(.get, "/v1/me/subscription", key: ada.access)
            #expect(none.json.string("plan") == "basic" && none.json.isNull("subscription"))

            var event = StripeWebhookTests.subscriptionEvent(
                "evt_1", type: "customer.subscription.created", created: app.clock.now(), status: "trialing",
                metadata: ["tollgate_customer": ada.id], periodStart: app.clock.now())
            var object = (event["data"] as! [String: Any])["object"] as! [String: Any]
            object["trial_end"] = Int(app.clock.now().timeIntervalSince1970) + 14 * 86_400
            event["data"] = ["object": object]
            _ = try await StripeWebhookTests.deliver(client, event, signedAt: app.clock.now())
            let trialing = try await client.call(.get, "/v1/me/subscription", key: ada.access)
            let subscription = try #require(trialing.json["subscription"] as? [String: Any])
            #expect(
                trialing.json.string("plan") == "pro" && subscription["status"] as? String == "trialing"
                    && subscription["trialEnd"] is String)
            // Another user sees only their own.
            let bob = try await WorkspaceTests.person(app, client, "bob")
            #expect(try await client.call(.get, "/v1/me/subscription", key: bob.access).json.isNull("subscription"))
            #expect(
                try await client.call(.get, "/v1/me/usage/history?from=nope", key: ada.access).status == .badRequest)
        }
    }
}
