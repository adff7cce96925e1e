import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateStorage

@testable import TollgateServer

/// Overage ("Surconsommation"): past its quota a feature continues at the catalog's unit price,
/// a spend cap stops it, and the overage is a line of the next invoice.
@Suite struct OverageAPITests {
    static var starter: Catalog {
        get throws { try CatalogLoader.load(contentsOf: Repository.path("catalogs/saas-starter.yaml")) }
    }

    func consume(_ client: some TestClientProtocol, _ app: AppHarness, _ feature: String, _ amount: Int, _ key: String)
        async throws -> (HTTPResponse.Status, [String: Any])
    {
        try await client.call(
            .post, "/v1/consume", key: app.adminKey,
            json: #"{"customer":"u1","feature":"\#(feature)","amount":\#(amount),"idempotencyKey":"\#(key)"}"#)
    }

    @Test(arguments: TestDatabase.all)
    func overageContinuesPastTheQuotaStopsAtTheCapAndIsInvoiced(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try Self.starter) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            #expect(
                try await client.call(
                    .post, "/v1/billing/subscriptions", key: app.adminKey,
                    json: #"{"customer":"u1","plan":"pro","idempotencyKey":"s1"}"#
                ).status == .created)
            // May's plan, invoiced as the subscription starts, is paid (unpaid, it would be dunned).
            let opening = try await client.call(.get, "/v1/customers/u1/invoices?status=open", key: app.adminKey)
            let first = try #require((opening.json["invoices"] as? [[String: Any]])?.first?["id"] as? String)
            #expect(try await client.call(.post, "/v1/invoices/\(first)/pay", key: app.adminKey).status == .ok)

            #expect(try await consume(client, app, "api_calls", 100_000, "a1").1["overage"] as? Int == 0)
            let beyond = try await consume(client, app, "api_calls", 1500, "a2")
            #expect(
                beyond.0 == .ok && beyond.1["overage"] as? Int == 1500 && beyond.1["remaining"] as? Int == 0,
                "\(beyond.1)")

            // The next invoice: the plan for the next period, and the overage so far (2 started
            // packages of 1,000 calls at 0.50).
            let upcoming = try await client.call(.get, "/v1/customers/u1/invoices/upcoming", key: app.adminKey)
            let lines = try #require(upcoming.json["lines"] as? [[String: Any]])
            #expect(lines.map { $0["kind"] as? String } == ["subscription", "overage"], "\(upcoming.json)")
            #expect(
                lines.last?["amount"] as? Int == 100 && lines.last?["quantity"] as? Int == 2
                    && lines.last?["feature"] as? String == "api_calls")
            #expect(upcoming.json["total"] as? Int == 3000 && upcoming.json.string("currency") == "EUR")

            // A cap of 3.00 on the period's overage, across features: 1.00 is spent on calls.
            let cap = try await client.call(
                .put, "/v1/customers/u1/spend-cap", key: app.adminKey, json: #"{"amount":300,"currency":"EUR"}"#)
            #expect(cap.status == .ok && (cap.json["spendCap"] as? [String: Any])?["amount"] as? Int == 300)
            #expect(try await consume(client, app, "bandwidth_gb", 500, "b1").0 == .ok)
            let tooMuch = try await consume(client, app, "bandwidth_gb", 30, "b2")
            #expect(
                tooMuch.0 == .tooManyRequests && tooMuch.1.string("reason") == "USER_QUOTA_EXHAUSTED",
                "30 GB at 0.08 would reach 3.40")
            #expect(try await consume(client, app, "bandwidth_gb", 25, "b3").0 == .ok, "2.00 + 1.00 is exactly the cap")
            #expect(try await consume(client, app, "bandwidth_gb", 1, "b4").0 == .tooManyRequests)
            // A check gives the answer a consume would: the cap is reached.
            let check = try await client.call(
                .post, "/v1/check", key: app.adminKey, json: #"{"customer":"u1","feature":"bandwidth_gb","amount":1}"#)
            #expect(check.json["allowed"] as? Bool == false && check.json["overage"] as? Int == 25, "\(check.json)")
            #expect(try await consume(client, app, "api_calls", 500, "a3").0 == .ok, "still inside the second package")
            #expect(try await consume(client, app, "api_calls", 1, "a4").0 == .tooManyRequests)
            #expect(
                try await client.call(.delete, "/v1/customers/u1/spend-cap", key: app.adminKey).json.isNull("spendCap"))
            #expect(
                try await consume(client, app, "api_calls", 1, "a5").0 == .ok, "without a cap, overage has no bound")
            #expect(
                try await client.call(
                    .put, "/v1/customers/u1/spend-cap", key: app.adminKey, json: #"{"amount":300,"currency":"XX"}"#
                ).json.errorField == "currency")

            // The period ends: the manual provider issues the invoice, once, with the overage.
            app.clock.advance(by: 31 * 86_400 + 1)
            let scheduler = app.scheduler()
            #expect(try await scheduler.tick() == 1)
            #expect(try await scheduler.tick() == 0)
            let listed = try await client.call(.get, "/v1/customers/u1/invoices", key: app.adminKey)
            let invoices = try #require(listed.json["invoices"] as? [[String: Any]])
            // May's plan was invoiced when the subscription started; June's with May's overage.
            #expect(invoices.count == 2)
            let openingInvoice = try #require(invoices.first { $0["periodStart"] is NSNull })
            #expect(
                (openingInvoice["lines"] as? [[String: Any]])?.map { $0["amount"] as? Int } == [2900],
                "\(openingInvoice)")
            let renewal = try #require(invoices.first { $0["periodStart"] as? String == "2026-05-14T00:00:00Z" })
            let issued = try #require(renewal["lines"] as? [[String: Any]])
            // 2,001 calls beyond: 3 packages (1.50); 25 GB beyond: 2.00; and June's plan.
            #expect(issued.map { $0["amount"] as? Int } == [2900, 150, 200], "\(issued)")
            #expect(renewal["total"] as? Int == 3250)
            let fresh = try await client.call(.get, "/v1/customers/u1/invoices/upcoming", key: app.adminKey)
            #expect((fresh.json["lines"] as? [[String: Any]])?.count == 1, "a new period starts without overage")
        }
    }

    /// Concurrent consumers on two features under one cap: the period's overage never costs
    /// more than the cap, and stops only when the next unit would not fit.
    @Test(arguments: TestDatabase.all)
    func concurrentOverageNeverPassesTheCap(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try Self.starter) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            try await client.call(.put, "/v1/customers/u1/plan", key: app.adminKey, json: #"{"plan":"pro"}"#)
            try await client.call(
                .put, "/v1/customers/u1/spend-cap", key: app.adminKey, json: #"{"amount":1000,"currency":"EUR"}"#)
            #expect(try await consume(client, app, "api_calls", 100_000, "fill-a").0 == .ok)
            #expect(try await consume(client, app, "bandwidth_gb", 500, "fill-b").0 == .ok)
            let accepted = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                for index in 0..<120 {
                    group.addTask {
                        let feature = index.isMultiple(of: 2) ? "bandwidth_gb" : "api_calls"
                        let amount = feature == "api_calls" ? 1000 : 1
                        return (feature, try await consume(client, app, feature, amount, "c\(index)").0 == .ok)
                    }
                }
                return try await group.reduce(into: [String: Int]()) { counts, result in
                    if result.1 { counts[result.0, default: 0] += 1 }
                }
            }
            // Calls cost 0.50 per 1,000 and bandwidth 0.08 per GB: the accepted ones spend at most 10.00.
            let spent = (accepted["api_calls"] ?? 0) * 50 + (accepted["bandwidth_gb"] ?? 0) * 8
            #expect(spent <= 1000, "\(accepted)")
            #expect(
                spent > 1000 - 8 || (accepted["api_calls"] ?? 0) + (accepted["bandwidth_gb"] ?? 0) == 120,
                "refused only when nothing more fits: \(accepted)")
            let upcoming = try await client.call(.get, "/v1/customers/u1/invoices/upcoming", key: app.adminKey)
            let overage = (upcoming.json["lines"] as? [[String: Any]] ?? []).filter {
                $0["kind"] as? String == "overage"
            }.compactMap { $0["amount"] as? Int }
            #expect(overage.reduce(0, +) == spent, "the invoice bills exactly what was accepted")
        }
    }
}

/// On Stripe, the overage goes onto the renewal invoice while it is a draft.
@Suite struct StripeOverageTests {
    @Test func theEndedPeriodsOverageIsAddedToStripesRenewalInvoiceOnce() async throws {
        let peer = StripePeer()
        try await peer.run { port in
            let stripe = StripeClient(secretKey: "sk_test_tollgate", baseURL: "http://127.0.0.1:\(port)")
            try await AppHarness.run(.sqlite, catalog: try OverageAPITests.starter, stripe: stripe) { app, client in
                try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
                let start = app.clock.now()
                _ = try await StripeWebhookTests.deliver(
                    client,
                    StripeWebhookTests.subscriptionEvent(
                        "evt_1", type: "customer.subscription.created", created: start, status: "active",
                        periodStart: start), signedAt: start)
                #expect(try await app.store.customer(id: "u1")?.planId == "pro")
                try await client.call(
                    .post, "/v1/consume", key: app.adminKey,
                    json: #"{"customer":"u1","feature":"api_calls","amount":101500,"idempotencyKey":"k1"}"#)

                func invoiceCreated(_ id: String, reason: String) -> [String: Any] {
                    [
                        "id": id, "object": "event", "type": "invoice.created",
                        "created": Int(start.timeIntervalSince1970) + 120,
                        "data": [
                            "object": [
                                "id": "in_\(id)", "object": "invoice", "status": "draft", "billing_reason": reason,
                                "customer": "cus_1", "subscription": "sub_1",
                                "period_start": Int(start.timeIntervalSince1970),
                                "period_end": Int(start.timeIntervalSince1970) + 31 * 86_400,
                            ] as [String: Any]
                        ],
                    ]
                }
                #expect(
                    try await StripeWebhookTests.deliver(
                        client, invoiceCreated("evt_2", reason: "subscription_create"), signedAt: start
                    ).1.string("outcome") == "ignored")
                #expect(
                    peer.requests.filter { $0.path == "/v1/invoiceitems" }.isEmpty,
                    "the first invoice has no usage to bill")
                let renewal = invoiceCreated("evt_3", reason: "subscription_cycle")
                #expect(
                    try await StripeWebhookTests.deliver(client, renewal, signedAt: start).1.string("outcome")
                        == "applied")
                #expect(
                    try await StripeWebhookTests.deliver(client, renewal, signedAt: start).1.string("outcome")
                        == "duplicate")
                let items = peer.requests.filter { $0.path == "/v1/invoiceitems" }
                #expect(items.count == 1)
                #expect(items.first?.form["invoice"] == "in_evt_3" && items.first?.form["customer"] == "cus_1")
                #expect(items.first?.form["amount"] == "100" && items.first?.form["currency"] == "eur")
                #expect(items.first?.idempotencyKey == "tollgate-overage-in_evt_3-api_calls")
            }
        }
    }
}
