import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateStorage

@testable import TollgateServer

/// The same billing operation — a trial started, a plan changed, a credit pack bought, a
/// subscription canceled — has the same result from the API, the console and the portal, on
/// the manual provider (the state Tollgate keeps) and on Stripe (what Stripe is asked).
@Suite struct BillingDoorsTests {
    /// Memento's plans (Pro with a 14-day trial without a card, Business) and a credit pack.
    static var catalog: Catalog {
        get throws {
            let memento = try String(contentsOfFile: Repository.path("catalogs/memento.yaml"), encoding: .utf8)
            return try CatalogLoader.load(
                yaml: memento + """

                    creditTypes: [credits]
                    creditPacks:
                      - id: pack_50
                        name: 50 credits
                        type: credits
                        amount: 50
                        prices:
                          - { currency: EUR, amount: 1900 }
                    """)
        }
    }

    enum Door: String, CaseIterable, Sendable {
        case api, console, portal
    }

    /// A customer per door, and how each door is asked for each operation.
    struct Doors {
        let app: AppHarness
        let client: any TestClientProtocol
        let admin: PageSession
        let user: PageSession
        let customers: [Door: String]

        static func open(_ app: AppHarness, _ client: any TestClientProtocol) async throws -> Doors {
            let admin = try await PageSession.open(app, role: .admin, email: "admin@example.com")
            for id in ["api-c", "console-c"] {
                try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"\#(id)"}"#)
            }
            try await PortalTests.signUp(app, client, email: "ada@example.com")
            let user = try await PageSession.portal(client, email: "ada@example.com")
            let portal = try await PortalTests.userId(app.store, "ada@example.com")
            return Doors(
                app: app, client: client, admin: admin, user: user,
                customers: [.api: "api-c", .console: "console-c", .portal: portal])
        }

        var publicBase: String { app.dependencies.consoleBaseURL }

        /// The plan's trial; the API starts Stripe's through its checkout route, the manual
        /// provider's through its trial route.
        func startTrial(_ door: Door, stripe: Bool) async throws {
            let customer = customers[door]!
            switch door {
            case .api where stripe:
                let pages = CheckoutPages.plan(publicBase)
                let answer = try await client.call(
                    .post, "/v1/billing/checkout", key: app.adminKey,
                    json: """
                        {"customer":"\(customer)","plan":"pro","successUrl":"\(pages.success)",\
                        "cancelUrl":"\(pages.cancel)","idempotencyKey":"trial-1"}
                        """)
                #expect(answer.status == .created, "\(answer.json)")
            case .api:
                let answer = try await client.call(
                    .post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"\#(customer)","plan":"pro"}"#)
                #expect(answer.status == .created, "\(answer.json)")
            case .console:
                let (status, page, _) = try await admin.post(
                    client, "/console/customers/\(customer)/trial-start",
                    [("plan", "pro"), ("interval", "month"), ("currency", "EUR"), ("key", "trial-1")])
                if stripe {
                    #expect(status == .ok && page.contains(#"id="checkout-link""#), "\(status) \(page)")
                } else {
                    #expect(status == .seeOther, "\(page)")
                }
            case .portal:
                let (status, page, _) = try await user.post(
                    client, "/portal/upgrade",
                    [("plan", "pro"), ("interval", "month"), ("currency", "EUR"), ("key", "trial-1")])
                #expect(status == .seeOther, "\(page)")
            }
        }

        func changePlan(_ door: Door, to plan: String) async throws {
            let customer = customers[door]!
            switch door {
            case .api:
                let answer = try await client.call(
                    .post, "/v1/billing/change-plan", key: app.adminKey,
                    json: #"{"customer":"\#(customer)","plan":"\#(plan)","idempotencyKey":"change-1"}"#)
                #expect(answer.status == .ok, "\(answer.json)")
            case .console:
                let (status, page, _) = try await admin.post(
                    client, "/console/customers/\(customer)/subscription-plan", [("plan", plan), ("key", "change-1")])
                #expect(status == .seeOther, "\(page)")
            case .portal:
                let (status, page, _) = try await user.post(
                    client, "/portal/upgrade",
                    [("plan", plan), ("interval", "month"), ("currency", "EUR"), ("key", "change-1")])
                #expect(status == .seeOther, "\(page)")
            }
        }

        func buyCreditPack(_ door: Door, stripe: Bool) async throws {
            let customer = customers[door]!
            switch door {
            case .api where stripe:
                let pages = CheckoutPages.creditPack(publicBase)
                let answer = try await client.call(
                    .post, "/v1/credits/packs/checkout", key: app.adminKey,
                    json: """
                        {"customer":"\(customer)","pack":"pack_50","currency":"EUR","successUrl":"\(pages.success)",\
                        "cancelUrl":"\(pages.cancel)","idempotencyKey":"pack-1"}
                        """)
                #expect(answer.status == .created, "\(answer.json)")
            case .api:
                let answer = try await client.call(
                    .post, "/v1/customers/\(customer)/credit-packs", key: app.adminKey,
                    json: #"{"pack":"pack_50","currency":"EUR","idempotencyKey":"pack-1"}"#)
                #expect(answer.status == .created, "\(answer.json)")
            case .console:
                let (status, page, _) = try await admin.post(
                    client, "/console/customers/\(customer)/credit-packs",
                    [("pack", "pack_50"), ("currency", "EUR"), ("key", "pack-1")])
                #expect(stripe ? status == .ok : status == .seeOther, "\(page)")
            case .portal:
                let (status, page, _) = try await user.post(
                    client, "/portal/credit-packs", [("pack", "pack_50"), ("currency", "EUR"), ("key", "pack-1")])
                #expect(status == .seeOther, "\(page)")
            }
        }

        func cancel(_ door: Door) async throws {
            let customer = customers[door]!
            switch door {
            case .api:
                let answer = try await client.call(
                    .post, "/v1/billing/cancel", key: app.adminKey,
                    json: #"{"customer":"\#(customer)","atPeriodEnd":true}"#)
                #expect(answer.status == .ok, "\(answer.json)")
            case .console:
                let (status, page, _) = try await admin.post(client, "/console/customers/\(customer)/cancel")
                #expect(status == .seeOther, "\(page)")
            case .portal:
                let (status, page, _) = try await user.post(client, "/portal/cancel")
                #expect(status == .seeOther, "\(page)")
            }
        }

        /// What Tollgate keeps of a customer's billing, without its ids: subscriptions, charges
        /// waiting for an invoice, invoices, credit balances.
        func state(_ door: Door) async throws -> String {
            let customer = customers[door]!
            let subscriptions = try await app.store.subscriptions(subject: customer).map { subscription, provider in
                [
                    provider, subscription.planId, subscription.status.rawValue, subscription.interval.rawValue,
                    subscription.currency.code, "trial until \(subscription.trialEnd.map(\.description) ?? "-")",
                    "next \(subscription.pendingPlanId ?? "-")", "ends \(subscription.cancelAtPeriodEnd)",
                ].joined(separator: " ")
            }
            let pending = try await app.store.pendingInvoiceItems(subject: customer).map {
                "\($0.kind) \($0.amount)"
            }
            let invoices = try await app.store.invoices(subject: customer, statuses: Set(InvoiceStatus.allCases)).map {
                "\($0.status.rawValue) \($0.total)"
            }
            var balances: [String] = []
            for type in try await app.store.creditTypes(subject: customer) {
                balances.append("\(type) \(try await app.store.ledgerSum(subject: customer, creditType: type))")
            }
            let plan = try await app.store.customer(id: customer)?.planId ?? "-"
            return "plan \(plan) | \(subscriptions) | pending \(pending) | invoices \(invoices) | credits \(balances)"
        }

        /// Runs `operation` through each door and expects the same state from all three.
        func same(_ what: String, _ operation: (Door) async throws -> Void) async throws -> String {
            var states: [Door: String] = [:]
            for door in Door.allCases {
                try await operation(door)
                states[door] = try await state(door)
            }
            #expect(Set(states.values).count == 1, "\(what): \(states)")
            return states[.api]!
        }
    }

    @Test(arguments: TestDatabase.all)
    func theManualProviderGivesTheSameResultFromEveryDoor(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try Self.catalog) { app, client in
            let doors = try await Doors.open(app, client)
            // Before any paid subscription, nothing bills an end user's invoices: no pack on account.
            let (_, home, _) = try await doors.user.get(client, "/portal")
            #expect(!home.contains(#"id="buy-pack_50""#))
            let early = try await doors.user.post(client, "/portal/credit-packs", [("pack", "pack_50"), ("key", "p0")])
            #expect(early.0 == .conflict, "\(early.1)")
            // The console sells as the portal does.
            let (_, customerPage, _) = try await doors.admin.get(client, "/console/customers/console-c")
            #expect(!customerPage.contains(#"id="f-pack""#) && customerPage.contains(#"id="f-trial-plan""#))
            let onAccount = try await doors.admin.post(
                client, "/console/customers/console-c/credit-packs", [("pack", "pack_50"), ("key", "p0")])
            #expect(onAccount.0 == .conflict, "\(onAccount.1)")
            let trial = try await doors.same("trial") { try await doors.startTrial($0, stripe: false) }
            // The subscription moves only to a plan priced in its currency and interval, never the free one.
            let (_, trialing, _) = try await doors.admin.get(client, "/console/customers/console-c")
            let choices = try #require(trialing.firstMatch(of: /id="f-subscription-plan"[^>]*>(.*?)<\/select>/)).1
            #expect(choices.contains(#"value="business""#) && !choices.contains(#"value="basic""#), "\(choices)")
            #expect(trial.contains("plan pro | [\"manual pro trialing"), "\(trial)")
            let changed = try await doors.same("plan change") { try await doors.changePlan($0, to: "business") }
            #expect(changed.contains("plan business | [\"manual business active"), "\(changed)")
            let pack = try await doors.same("credit pack") { try await doors.buyCreditPack($0, stripe: false) }
            #expect(pack.contains("credits [\"credits 50\"]") && pack.contains("credit_pack 19.00 EUR"), "\(pack)")
            let canceled = try await doors.same("cancel") { try await doors.cancel($0) }
            #expect(canceled.contains("ends true"), "\(canceled)")

            // A customer who subscribed without a trial takes none beside the subscription.
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"paying"}"#)
            try await client.call(
                .post, "/v1/billing/subscriptions", key: app.adminKey,
                json: #"{"customer":"paying","plan":"business","idempotencyKey":"s1"}"#)
            let second = try await client.call(
                .post, "/v1/billing/trial", key: app.adminKey, json: #"{"customer":"paying","plan":"pro"}"#)
            #expect(second.status == .conflict && second.json.errorField == "customer", "\(second.json)")
            // A downgrade waits for the period's end, and the customer's page says so.
            let down = try await doors.admin.post(
                client, "/console/customers/paying/subscription-plan", [("plan", "pro"), ("key", "down-1")])
            #expect(down.0 == .seeOther, "\(down.1)")
            let (_, paying, _) = try await doors.admin.get(client, "/console/customers/paying")
            #expect(paying.contains("Business → Pro (From the next period)"), "the pending plan is shown")
        }
    }

    @Test func stripeIsAskedTheSameFromEveryDoor() async throws {
        let peer = StripePeer()
        try await peer.run { port in
            let stripe = StripeClient(secretKey: "sk_test_tollgate", baseURL: "http://127.0.0.1:\(port)")
            try await AppHarness.run(.sqlite, catalog: try Self.catalog, stripe: stripe) { app, client in
                let doors = try await Doors.open(app, client)
                /// What each door made Stripe do: its checkouts and subscription updates, without
                /// what names the customer.
                func asked(_ operation: (Door) async throws -> Void) async throws -> [Door: [String]] {
                    var asked: [Door: [String]] = [:]
                    for door in Door.allCases {
                        let before = peer.requests.count
                        try await operation(door)
                        asked[door] = peer.requests.dropFirst(before).filter {
                            $0.method == "POST" && ($0.path == "/v1/checkout/sessions" || $0.path.hasPrefix("/v1/sub"))
                        }.map { request in
                            let form = request.form.filter { !$0.key.contains("metadata") && $0.key != "customer" }
                                .filter { $0.key != "client_reference_id" }
                            let path =
                                request.path.hasPrefix("/v1/subscriptions/") ? "/v1/subscriptions/…" : request.path
                            return "\(path) "
                                + form.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: "&")
                        }
                    }
                    #expect(Set(asked.values).count == 1, "\(asked)")
                    #expect(asked[.api]?.count == 1, "one request to Stripe: \(asked)")
                    return asked
                }
                let trial = try await asked { try await doors.startTrial($0, stripe: true) }
                #expect(trial[.api]?.first?.contains("subscription_data[trial_period_days]=14") == true)

                // Stripe tells of each subscription; then each door changes, sells and cancels.
                let now = app.clock.now()
                for door in Door.allCases {
                    let customer = doors.customers[door]!
                    peer.subscriptionOwners.withLock { $0["sub_\(door)"] = customer }
                    var event = StripeWebhookTests.subscriptionEvent(
                        "evt_\(door)", type: "customer.subscription.created", created: now, status: "trialing",
                        price: "pro_monthly_eur", customer: "cus_test_1", metadata: ["tollgate_customer": customer],
                        periodStart: now)
                    var object = (event["data"] as! [String: Any])["object"] as! [String: Any]
                    object["id"] = "sub_\(door)"
                    event["data"] = ["object": object]
                    _ = try await StripeWebhookTests.deliver(client, event, signedAt: now)
                }
                let trialing = try await doors.same("Stripe's trial") { _ in }
                #expect(trialing.contains("plan pro | [\"stripe pro trialing"), "\(trialing)")

                let change = try await asked { try await doors.changePlan($0, to: "business") }
                #expect(change[.api]?.first?.contains("price_business_m_eur") == true, "\(change)")
                let pack = try await asked { try await doors.buyCreditPack($0, stripe: true) }
                #expect(pack[.api]?.first?.contains("mode=payment") == true, "\(pack)")
                let cancel = try await asked { try await doors.cancel($0) }
                #expect(cancel[.api]?.first?.contains("cancel_at_period_end=true") == true, "\(cancel)")
            }
        }
    }
}
