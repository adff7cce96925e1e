import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateNotify
import TollgateStorage

@testable import TollgateServer

@Suite struct SubscriptionLifecycleTests {
    @Test(arguments: TestDatabase.all)
    func aProTrialWithoutACardEndsOnTheFreePlanAndHappensOnce(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let trial = try await client.call(
                .post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"u1","plan":"pro"}"#)
            #expect(
                trial.status == .created && trial.json.string("status") == "trialing"
                    && trial.json.string("plan") == "pro")
            #expect(try await app.store.customer(id: "u1")?.planId == "pro")
            #expect(
                try await client.call(
                    .post, "/v1/check", key: app.adminKey, json: #"{"customer":"u1","feature":"chat"}"#
                ).json["allowed"] as? Bool == true)
            let again = try await client.call(
                .post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"u1","plan":"pro"}"#)
            #expect(again.status == .conflict)
            #expect(
                try await client.call(
                    .post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"u1","plan":"business"}"#
                ).json.errorField == "plan")
            #expect(
                try await client.call(
                    .post, "/v1/billing/trial", key: app.adminKey,
                    json: #"{"customer":"u1","plan":"pro","currency":"JPY"}"#
                ).json.errorField == "currency")

            let scheduler = SubscriptionService(
                catalog: try WorkspaceTests.memento, store: app.store, clock: app.clock, logger: TestDatabase.logger)
            app.clock.advance(by: 10 * 86_400)
            #expect(try await scheduler.tick() == 0)
            let reminders = {
                try await app.store.outboxMessages(recipient: "customer:u1").filter {
                    $0.kind == "event.subscription.trial_will_end"
                }
            }
            #expect(try await reminders().isEmpty, "4 days left: too early for the 3-day reminder")
            app.clock.advance(by: 3 * 86_400)
            #expect(try await scheduler.tick() == 0)
            #expect(try await scheduler.tick() == 0)
            let reminder = try #require(try await reminders().first)
            #expect(try await reminders().count == 1, "told once, however many ticks look")
            let body = try JSONSerialization.jsonObject(with: Data(reminder.payload.utf8)) as? [String: Any]
            #expect(
                EventFanOut.mailKind(ofEvent: "subscription.trial_will_end", data: [:]) == "email.trial_ending")
            #expect((body?["data"] as? [String: Any])?["status"] as? String == "trialing")
            app.clock.advance(by: 86_400 + 1)
            #expect(try await scheduler.tick() == 1)
            #expect(try await app.store.customer(id: "u1")?.planId == "basic")
            #expect(try await app.store.subscriptions(subject: "u1").first?.0.status == .inactive)
            #expect(try await scheduler.tick() == 0, "nothing left to move")
        }
    }

    @Test(arguments: TestDatabase.all)
    func aPastDueStripeSubscriptionFallsBackToFreeWhenTheGracePeriodEnds(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let t0 = app.clock.now()
            _ = try await StripeWebhookTests.deliver(
                client,
                StripeWebhookTests.subscriptionEvent(
                    "evt_1", type: "customer.subscription.created", created: t0, status: "active", periodStart: t0),
                signedAt: t0)
            let failed: [String: Any] = [
                "id": "evt_2", "object": "event", "type": "invoice.payment_failed",
                "created": Int(t0.timeIntervalSince1970) + 60,
                "data": ["object": ["id": "in_1", "object": "invoice", "subscription": "sub_1", "customer": "cus_1"]],
            ]
            _ = try await StripeWebhookTests.deliver(client, failed, signedAt: t0 + 60)
            #expect(try await app.store.subscription(id: "sub_1")?.status == .pastDue)
            let scheduler = SubscriptionService(
                catalog: try WorkspaceTests.memento, store: app.store, clock: app.clock, logger: TestDatabase.logger)
            app.clock.advance(by: 6 * 86_400)
            #expect(try await scheduler.tick() == 0)
            #expect(
                try await app.store.customer(id: "u1")?.planId == "pro", "entitlements stay during the grace period")
            app.clock.advance(by: 86_400 + 61)
            #expect(try await scheduler.tick() == 1)
            #expect(try await app.store.customer(id: "u1")?.planId == "basic")
            // The customer paid a minute after the failure, but Stripe's webhook was retried and
            // arrives only now, after the grace period was judged over: it still applies.
            let paid: [String: Any] = [
                "id": "evt_3", "object": "event", "type": "invoice.paid",
                "created": Int(t0.timeIntervalSince1970) + 120,
                "data": ["object": ["id": "in_2", "object": "invoice", "subscription": "sub_1", "customer": "cus_1"]],
            ]
            #expect(
                try await StripeWebhookTests.deliver(client, paid, signedAt: app.clock.now()).1.string("outcome")
                    == "applied")
            // Paying the overdue invoice after the grace period recovers the subscription, as Stripe does.
            #expect(try await app.store.subscription(id: "sub_1")?.status == .active)
            #expect(try await app.store.customer(id: "u1")?.planId == "pro")

            // Its MRR moved with it: new, unchanged while past due, churned when the
            // grace ended, reactivated by the late payment.
            let movements = try await app.store.revenueMovements(from: .distantPast, to: .distantFuture)
            #expect(movements.map(\.movement.kind) == [.new, .churn, .reactivation])
            let mrr = try #require(movements.first?.movement.amount)
            #expect(mrr > 0 && movements.map(\.movement.amount) == [mrr, -mrr, mrr])
            #expect(movements.allSatisfy { $0.subject == "u1" && $0.movement.currency.code == "EUR" })

            // Each change was told, written with it, and what it means for the
            // customer is the e-mail its fan-out writes.
            // Events of one change share a time; changes come one after the other.
            var changes: [Date: Set<String>] = [:]
            var mails: [Date: Set<String>] = [:]
            for message in try await app.store.outboxMessages(recipient: "customer:u1") {
                let body = try JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: Any]
                let type = try #require(body?["type"] as? String)
                #expect(message.kind == "event." + type)
                let problems = try #require(OpenAPIResponseValidator.shared).problems(
                    ofWebhook: Data(message.payload.utf8))
                #expect(problems.isEmpty, "\(problems)")
                changes[message.createdAt, default: []].insert(type)
                let data = body?["data"] as? [String: Any] ?? [:]
                if let mail = EventFanOut.mailKind(ofEvent: type, data: data) {
                    mails[message.createdAt, default: []].insert(mail)
                }
            }
            let times = changes.keys.sorted()
            #expect(
                times.map { changes[$0] ?? [] } == [
                    ["customer.created", "subscription.created", "customer.plan_changed"], ["subscription.past_due"],
                    ["subscription.canceled", "customer.plan_changed"],
                    ["subscription.updated", "customer.plan_changed", "invoice.paid"],
                ])
            #expect(
                times.map { mails[$0] ?? [] } == [
                    ["email.plan_changed"], ["email.payment_failed"],
                    ["email.subscription_suspended", "email.plan_changed"],
                    ["email.subscription_reactivated", "email.plan_changed"],
                ])
        }
    }
}

/// The manual provider's whole lifecycle: an invoiced subscription, an upgrade charged pro rata
/// on the next invoice, a downgrade waiting for the period's end, a cancellation.
@Suite struct ManualPlanChangeTests {
    /// From Pro's trial to Business (which has none), the trial ends and the
    /// new period is invoiced at once; the trial is not carried over.
    @Test(arguments: TestDatabase.all)
    func aTrialMovedToAPlanWithoutOneEndsAndIsInvoicedNow(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let trial = try await client.call(
                .post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"u1","plan":"pro"}"#)
            #expect(trial.json.string("status") == "trialing")
            let trialing = try #require(try await app.store.subscriptions(subject: "u1").first?.0)
            app.clock.advance(by: 3 * 86_400)
            let change = try await client.call(
                .post, "/v1/billing/change-plan", key: app.adminKey,
                json: #"{"customer":"u1","plan":"business","idempotencyKey":"c1"}"#)
            let subscription = try #require(change.json["subscription"] as? [String: Any])
            #expect(
                subscription["status"] as? String == "active" && subscription["trialEnd"] is NSNull
                    && subscription["currentPeriodStart"] as? String == "2026-05-17T00:00:00Z", "\(subscription)")
            let listed = try await client.call(.get, "/v1/customers/u1/invoices", key: app.adminKey)
            let invoices = try #require(listed.json["invoices"] as? [[String: Any]])
            #expect(
                invoices.count == 1 && invoices.first?["status"] as? String == "open"
                    && invoices.first?["total"] as? Int == 2990, "\(invoices)")
            // A second change out of the same trial (another tab, another key) charges nothing more.
            let service = app.scheduler()
            _ = try await service.changePlan(trialing, to: "business", idempotencyKey: "c2")
            let relisted = try await client.call(.get, "/v1/customers/u1/invoices", key: app.adminKey)
            #expect((relisted.json["invoices"] as? [[String: Any]])?.count == 1, "invoiced once")
            #expect(try await app.store.pendingInvoiceItems(subject: "u1").isEmpty, "nothing left to bill twice")
            // The first period's invoice belongs to the subscription: unpaid, it is dunned; paid, it
            // clears a past due.
            #expect(invoices.first?["subscription"] as? String == trialing.id, "\(invoices)")
            #expect(try await app.store.customer(id: "u1")?.planId == "business")
        }
    }

    @Test(arguments: TestDatabase.all)
    func upgradesAreProratedDowngradesWaitForThePeriodsEnd(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            let none = try await client.call(
                .post, "/v1/billing/change-plan", key: app.adminKey,
                json: #"{"customer":"u1","plan":"business","idempotencyKey":"k0"}"#)
            #expect(none.status == .conflict && none.json.errorField == "customer")

            let created = try await client.call(
                .post, "/v1/billing/subscriptions", key: app.adminKey,
                json: #"{"customer":"u1","plan":"pro","idempotencyKey":"s1"}"#)
            #expect(
                created.status == .created && created.json.string("status") == "active"
                    && created.json.string("provider") == "manual")
            let replay = try await client.call(
                .post, "/v1/billing/subscriptions", key: app.adminKey,
                json: #"{"customer":"u1","plan":"pro","idempotencyKey":"s1"}"#)
            #expect(replay.status == .created && replay.json.string("id") == created.json.string("id"))
            #expect(
                try await client.call(
                    .post, "/v1/billing/subscriptions", key: app.adminKey,
                    json: #"{"customer":"u1","plan":"business","idempotencyKey":"s2"}"#
                ).status == .conflict)
            #expect(try await app.store.customer(id: "u1")?.planId == "pro")

            // Ten days into a period of 31 (May 14 → June 14): 21 days of the 20.00 difference are due.
            app.clock.advance(by: 10 * 86_400)
            let upgrade = try await client.call(
                .post, "/v1/billing/change-plan", key: app.adminKey,
                json: #"{"customer":"u1","plan":"business","idempotencyKey":"c1"}"#)
            #expect(upgrade.status == .ok && upgrade.json.string("effective") == "now", "\(upgrade.json)")
            let expected: Int64 = (2_000 * 21 + 15) / 31 // 1354.8… rounds to 1355
            let proration = try #require(upgrade.json["proration"] as? [String: Any])
            #expect(proration["amount"] as? Int == Int(expected) && proration["currency"] as? String == "EUR")
            #expect(try await app.store.customer(id: "u1")?.planId == "business")
            let again = try await client.call(
                .post, "/v1/billing/change-plan", key: app.adminKey,
                json: #"{"customer":"u1","plan":"business","idempotencyKey":"c1"}"#)
            #expect((again.json["proration"] as? [String: Any])?["amount"] as? Int == Int(expected))
            let charges = try await app.store.pendingInvoiceItems(subject: "u1")
            #expect(
                charges.map(\.amount) == [Money(expected, Currency("EUR")!)] && charges.first?.kind == "proration",
                "recorded once")
            #expect(
                charges.first?.description == "Pro → Business, prorated for the rest of the period",
                "the invoice line names the plans")

            let downgrade = try await client.call(
                .post, "/v1/billing/change-plan", key: app.adminKey,
                json: #"{"customer":"u1","plan":"pro","idempotencyKey":"c2"}"#)
            #expect(downgrade.json.string("effective") == "period_end" && downgrade.json["proration"] is NSNull)
            #expect((downgrade.json["subscription"] as? [String: Any])?["pendingPlan"] as? String == "pro")
            #expect(try await app.store.customer(id: "u1")?.planId == "business", "paid for until the period ends")
            #expect(try await app.store.pendingInvoiceItems(subject: "u1").count == 1, "a downgrade charges nothing")

            let scheduler = SubscriptionService(
                catalog: try WorkspaceTests.memento, store: app.store, clock: app.clock, logger: TestDatabase.logger)
            app.clock.advance(by: 21 * 86_400 + 1)
            #expect(try await scheduler.tick() == 1)
            #expect(try await app.store.customer(id: "u1")?.planId == "pro")
            let listed = try await client.call(.get, "/v1/customers/u1/subscriptions", key: app.adminKey)
            let only = try #require((listed.json["subscriptions"] as? [[String: Any]])?.first)
            #expect(
                only["plan"] as? String == "pro" && only["pendingPlan"] is NSNull
                    && only["currentPeriodStart"] as? String == "2026-06-14T00:00:00Z")

            let cancelled = try await client.call(
                .post, "/v1/billing/cancel", key: app.adminKey, json: #"{"customer":"u1"}"#)
            #expect(cancelled.status == .ok && cancelled.json.string("cancel") == "at_period_end")
            app.clock.advance(by: 31 * 86_400)
            #expect(try await scheduler.tick() == 1)
            #expect(try await app.store.customer(id: "u1")?.planId == "basic")
            #expect(
                try await client.call(.post, "/v1/billing/cancel", key: app.adminKey, json: #"{"customer":"u1"}"#)
                    .status == .notFound)
            // Its MRR: Pro (9.90), Business now (29.90), Pro at the period's end, gone.
            let movements = try await app.store.revenueMovements(from: .distantPast, to: .distantFuture)
            #expect(movements.map(\.movement.kind) == [.new, .expansion, .contraction, .churn])
            #expect(movements.map(\.movement.mrrAfter) == [990, 2990, 990, 0])
            #expect(movements.map(\.movement.amount).reduce(0, +) == 0)
        }
    }
}
