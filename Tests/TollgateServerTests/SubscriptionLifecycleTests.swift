import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateStore
@testable import TollgateServer

@Suite struct SubscriptionLifecycleTests {
    @Test(arguments: TestDatabase.all)
    func aProTrialWithoutACardEndsOnTheFreePlanAndHappensOnce(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let trial = try await client.call(.post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"u1","plan":"pro"}"#)
            #expect(trial.status == .created && trial.json.string("status") == "trialing" && trial.json.string("plan") == "pro")
            #expect(try await app.store.customer(id: "u1")?.planId == "pro")
            #expect(try await client.call(.post, "/v1/check", key: app.adminKey, json: #"{"customer":"u1","feature":"chat"}"#).json["allowed"] as? Bool == true)
            let again = try await client.call(.post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"u1","plan":"pro"}"#)
            #expect(again.status == .conflict)
            #expect(try await client.call(.post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"u1","plan":"business"}"#).json.errorField == "plan")
            #expect(try await client.call(.post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"u1","plan":"pro","currency":"JPY"}"#).json.errorField == "currency")

            let scheduler = SubscriptionService(catalog: try WorkspaceTests.memento, store: app.store, clock: app.clock, logger: TestDatabase.logger, planChanged: { _ in })
            app.clock.advance(by: 13 * 86_400)
            #expect(try await scheduler.tick() == 0)
            app.clock.advance(by: 86_400 + 1)
            #expect(try await scheduler.tick() == 1)
            #expect(try await app.store.customer(id: "u1")?.planId == "basic")
            #expect(try await app.store.subscriptions(subject: "u1").first?.status == .inactive)
            #expect(try await scheduler.tick() == 0, "nothing left to move")
        }
    }

    @Test(arguments: TestDatabase.all)
    func aPastDueStripeSubscriptionFallsBackToFreeWhenTheGracePeriodEnds(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let t0 = app.clock.now()
            _ = try await StripeWebhookTests.deliver(client, StripeWebhookTests.subscriptionEvent(
                "evt_1", type: "customer.subscription.created", created: t0, status: "active", periodStart: t0), signedAt: t0)
            let failed: [String: Any] = ["id": "evt_2", "object": "event", "type": "invoice.payment_failed", "created": Int(t0.timeIntervalSince1970) + 60,
                                         "data": ["object": ["id": "in_1", "object": "invoice", "subscription": "sub_1", "customer": "cus_1"]]]
            _ = try await StripeWebhookTests.deliver(client, failed, signedAt: t0 + 60)
            #expect(try await app.store.subscription(id: "sub_1")?.status == .pastDue)
            let scheduler = SubscriptionService(catalog: try WorkspaceTests.memento, store: app.store, clock: app.clock, logger: TestDatabase.logger, planChanged: { _ in })
            app.clock.advance(by: 6 * 86_400)
            #expect(try await scheduler.tick() == 0)
            #expect(try await app.store.customer(id: "u1")?.planId == "pro", "entitlements stay during the grace period")
            app.clock.advance(by: 86_400 + 61)
            #expect(try await scheduler.tick() == 1)
            #expect(try await app.store.customer(id: "u1")?.planId == "basic")
            let paid: [String: Any] = ["id": "evt_3", "object": "event", "type": "invoice.paid", "created": Int(app.clock.now().timeIntervalSince1970),
                                       "data": ["object": ["id": "in_2", "object": "invoice", "subscription": "sub_1", "customer": "cus_1"]]]
            _ = try await StripeWebhookTests.deliver(client, paid, signedAt: app.clock.now())
            // Paying the overdue invoice after the grace period recovers the subscription, as Stripe does.
            #expect(try await app.store.subscription(id: "sub_1")?.status == .active)
            #expect(try await app.store.customer(id: "u1")?.planId == "pro")
        }
    }
}
