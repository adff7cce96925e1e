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

/// The analytics proven against an independent computation. A generator drives two
/// simulated years through Tollgate's public API on the test clock — sign-ups, manual
/// subscriptions (monthly and yearly, EUR and USD, seats), trials, upgrades, downgrades at the
/// period's end, cancellations now and at the period's end, reactivations, and, as Stripe, signed
/// webhooks with trials that convert or not, plan, seat and add-on changes, failed payments that
/// recover or end in suspension; AI chat consumed under every plan, refused and upgraded from;
/// product events tracked, some dated back — and keeps its own record of what it did. A Python
/// reference (Tests/peers/analytics_reference.py), written from docs/metrics.md, computes from that
/// record alone every figure of the revenue report for every month in both currencies, of the
/// customers report, of the usage and adoption reports of each month, of the activity of every day
/// and of the retention cohorts; Tollgate's answers must equal them to the minor unit, on SQLite and
/// on PostgreSQL.
@Suite struct AnalyticsOracleTests {
    static let start = Fixtures.utc(2025, 1, 1)
    static let end = Fixtures.utc(2027, 1, 1)
    static let catalogPath = "Tests/peers/oracle-catalog.yaml"

    /// The corner cases, played on set days by customers of their own (the manual provider).
    enum Step {
        case subscribe(plan: String, interval: String, currency: String)
        case change(to: String)
        case cancel(atPeriodEnd: Bool)
    }

    static let script: [(day: Date, customer: String, step: Step)] = [
        // A yearly plan started on the 31st, and a monthly one (its periods end on the 30th, then
        // the 28th…: each starts where the last ended).
        (Fixtures.utc(2025, 1, 31), "k1", .subscribe(plan: "pro", interval: "year", currency: "EUR")),
        (Fixtures.utc(2025, 3, 31), "k2", .subscribe(plan: "business", interval: "month", currency: "USD")),
        (Fixtures.utc(2025, 6, 10), "k2", .change(to: "pro")),
        // An upgrade and a downgrade in the same month (the downgrade at the period's end, in it too).
        (Fixtures.utc(2025, 9, 25), "k3", .subscribe(plan: "pro", interval: "month", currency: "EUR")),
        (Fixtures.utc(2025, 10, 2), "k3", .change(to: "business")),
        (Fixtures.utc(2025, 10, 10), "k3", .change(to: "pro")),
        // A reactivation after churn, on a yearly price whose twelfth ends in a half.
        (Fixtures.utc(2025, 2, 10), "k4", .subscribe(plan: "pro", interval: "month", currency: "EUR")),
        (Fixtures.utc(2025, 4, 1), "k4", .cancel(atPeriodEnd: false)),
        (Fixtures.utc(2025, 8, 15), "k4", .subscribe(plan: "business", interval: "year", currency: "EUR")),
        // A customer who churns in the month it joined.
        (Fixtures.utc(2025, 11, 3), "k5", .subscribe(plan: "pro", interval: "month", currency: "USD")),
        (Fixtures.utc(2025, 11, 20), "k5", .cancel(atPeriodEnd: false)),
        // From one currency to the other: a churn in EUR, a new customer in USD.
        (Fixtures.utc(2025, 5, 5), "k6", .subscribe(plan: "pro", interval: "month", currency: "EUR")),
        (Fixtures.utc(2025, 6, 1), "k6", .cancel(atPeriodEnd: false)),
        (Fixtures.utc(2025, 6, 2), "k6", .subscribe(plan: "pro", interval: "year", currency: "USD")),
        // Cancelled at the end of a yearly period that started on a 29th of February's neighbour.
        (Fixtures.utc(2025, 2, 28), "k7", .subscribe(plan: "business", interval: "year", currency: "USD")),
        (Fixtures.utc(2025, 12, 1), "k7", .cancel(atPeriodEnd: true)),
    ]

    /// A deterministic generator (SplitMix64): the same seed, the same two years.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// What the generator knows of a Stripe subscription: it is Stripe, so this is the truth.
    struct StripeSubscription {
        let id: String
        var status: String
        var plan: String
        var interval: String
        var currency: String
        var seats: Int?
        var addOns: [String: Int]
        var pastDueSince: Date?
    }

    final class Generator {
        let app: AppHarness
        let client: any TestClientProtocol
        var random: SplitMix
        var events: [[String: Any]] = []
        var customers: [(id: String, stripe: Bool)] = []
        var stripe: [String: StripeSubscription] = [:] // by customer: the live one
        var trialed: Set<String> = []
        var stripeEvents = 0
        var subscriptions = 0
        var consumes = 0
        var tracked = 0

        init(app: AppHarness, client: any TestClientProtocol, seed: UInt64) {
            self.app = app
            self.client = client
            self.random = SplitMix(state: seed)
        }

        func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &random) < probability }
        func pick<T>(_ values: [T]) -> T { values.randomElement(using: &random)! }

        func record(_ op: String, _ fields: [String: Any]) {
            var event = fields
            event["op"] = op
            event["at"] = app.clock.now().formatted(.iso8601)
            events.append(event)
        }

        /// A few whole seconds pass between two actions (Stripe's times are whole seconds).
        func pause() { app.clock.advance(by: TimeInterval(Int.random(in: 1...900, using: &random))) }

        var scripted: Set<String> = []

        func play(_ customer: String, _ step: Step) async throws {
            pause()
            if scripted.insert(customer).inserted {
                let made = try await client.call(
                    .post, "/v1/customers", key: app.adminKey, json: #"{"id":"\#(customer)"}"#)
                #expect(made.status == .created)
                record("signup", ["customer": customer])
                pause()
            }
            switch step {
            case .subscribe(let plan, let interval, let currency):
                try await subscribe(customer, plan: plan, interval: interval, currency: currency, seats: nil)
            case .change(let target):
                let id = try #require(try await live(customer)?.string("id"))
                try await change(customer, subscription: id, to: target)
            case .cancel(let atPeriodEnd):
                let id = try #require(try await live(customer)?.string("id"))
                try await cancel(customer, subscription: id, atPeriodEnd: atPeriodEnd)
            }
        }

        func day() async throws {
            if customers.count < 70, chance(customers.count < 10 ? 0.5 : 0.12) {
                pause()
                let id = "c\(customers.count + 1)"
                let made = try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"\#(id)"}"#)
                #expect(made.status == .created)
                customers.append((id, chance(0.35)))
                record("signup", ["customer": id])
            }
            for customer in customers where chance(0.04) {
                pause()
                if customer.stripe {
                    try await stripeAction(customer.id)
                } else {
                    try await manualAction(customer.id)
                }
            }
            for customer in customers + scripted.map({ ($0, false) }) where chance(0.1) {
                pause()
                try await consume(customer.id)
            }
            for customer in customers where chance(0.05) {
                pause()
                try await track(customer.id)
            }
        }

        /// A few product events, some dated up to a day and a half back (they count on their day).
        func track(_ customer: String) async throws {
            let now = app.clock.now()
            var sent: [[String: Any]] = []
            var bodies: [String] = []
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                tracked += 1
                let name = pick(["note_created", "export_triggered", "upgrade_intent"])
                let at =
                    chance(0.5) ? now : now.addingTimeInterval(-Double(Int.random(in: 0...129_600, using: &random)))
                sent.append(["name": name, "at": at.formatted(.iso8601)])
                bodies.append(
                    #"{"customer":"\#(customer)","event":"\#(name)","idempotencyKey":"t\#(tracked)","#
                        + #""timestamp":"\#(at.formatted(.iso8601))"}"#)
            }
            let answer = try await client.call(
                .post, "/v1/track", key: app.adminKey, json: #"{"events":[\#(bodies.joined(separator: ","))]}"#)
            #expect(answer.status == .ok && answer.json.int("recorded") == bodies.count, "\(answer.json)")
            record("track", ["customer": customer, "events": sent])
        }

        /// A few AI chat messages in one batch: refused on Basic (not in the plan, Pro named), and
        /// past the month's quota on the others (the next plan named).
        func consume(_ customer: String) async throws {
            let amounts = (0..<Int.random(in: 1...4, using: &random)).map { _ in Int.random(in: 1...30, using: &random)
            }
            let batch = amounts.map { amount -> String in
                consumes += 1
                return
                    #"{"customer":"\#(customer)","feature":"chat","amount":\#(amount),"#
                    + #""idempotencyKey":"u\#(consumes)"}"#
            }
            let answer = try await client.call(
                .post, "/v1/events", key: app.adminKey, json: #"{"events":[\#(batch.joined(separator: ","))]}"#)
            #expect(answer.status == .ok && answer.json.int("failed") == 0, "\(answer.json)")
            record("consume", ["customer": customer, "feature": "chat", "amounts": amounts])
        }

        // MARK: Manual provider

        func live(_ customer: String) async throws -> [String: Any]? {
            let listed = try await client.call(.get, "/v1/customers/\(customer)/subscriptions", key: app.adminKey)
            let all = listed.json["subscriptions"] as? [[String: Any]] ?? []
            return all.last { ["trialing", "active", "past_due"].contains($0.string("status") ?? "") }
        }

        func manualAction(_ customer: String) async throws {
            guard let current = try await live(customer) else {
                if !trialed.contains(customer), chance(0.3) {
                    let currency = pick(["EUR", "USD"])
                    let started = try await client.call(
                        .post, "/v1/billing/trial", key: app.adminKey,
                        json: #"{"customer":"\#(customer)","plan":"pro","currency":"\#(currency)"}"#)
                    #expect(started.status == .created, "\(started.json)")
                    trialed.insert(customer)
                    let id = try #require(started.json.string("id"))
                    record(
                        "manual_trial",
                        ["id": id, "customer": customer, "plan": "pro", "interval": "month", "currency": currency])
                    return
                }
                let plan = pick(["pro", "pro", "business", "enterprise"])
                try await subscribe(
                    customer, plan: plan, interval: plan == "enterprise" ? "month" : pick(["month", "year"]),
                    currency: pick(["EUR", "USD"]),
                    seats: plan == "enterprise" ? Int.random(in: 5...60, using: &random) : nil)
                return
            }
            let id = try #require(current.string("id"))
            guard current.string("status") == "active", current["cancelAtPeriodEnd"] as? Bool == false,
                current["pendingPlan"] is NSNull || current["pendingPlan"] == nil,
                let plan = current.string("plan"), plan != "enterprise"
            else { return }
            if chance(0.5) {
                try await change(customer, subscription: id, to: plan == "pro" ? "business" : "pro")
            } else {
                try await cancel(customer, subscription: id, atPeriodEnd: chance(0.5))
            }
        }

        func subscribe(_ customer: String, plan: String, interval: String, currency: String, seats: Int?)
            async throws
        {
            subscriptions += 1
            let made = try await client.call(
                .post, "/v1/billing/subscriptions", key: app.adminKey,
                json: """
                    {"customer":"\(customer)","plan":"\(plan)","interval":"\(interval)","currency":"\(currency)",\
                    \(seats.map { "\"seats\":\($0)," } ?? "")"idempotencyKey":"s\(subscriptions)"}
                    """)
            #expect(made.status == .created, "\(made.json)")
            var fields: [String: Any] = [
                "id": try #require(made.json.string("id")), "customer": customer, "plan": plan, "interval": interval,
                "currency": currency,
            ]
            if let seats { fields["seats"] = seats }
            record("manual_subscribe", fields)
        }

        func change(_ customer: String, subscription id: String, to target: String) async throws {
            subscriptions += 1
            let changed = try await client.call(
                .post, "/v1/billing/change-plan", key: app.adminKey,
                json: #"{"customer":"\#(customer)","plan":"\#(target)","idempotencyKey":"p\#(subscriptions)"}"#)
            #expect(changed.status == .ok, "\(changed.json)")
            record("manual_change", ["id": id, "plan": target])
        }

        func cancel(_ customer: String, subscription id: String, atPeriodEnd: Bool) async throws {
            let canceled = try await client.call(
                .post, "/v1/billing/cancel", key: app.adminKey,
                json: #"{"customer":"\#(customer)","atPeriodEnd":\#(atPeriodEnd)}"#)
            #expect(canceled.status == .ok, "\(canceled.json)")
            record("manual_cancel", ["id": id, "atPeriodEnd": atPeriodEnd])
        }

        // MARK: Stripe, played by the generator

        func stripeAction(_ customer: String) async throws {
            let now = app.clock.now()
            if var subscription = stripe[customer],
                !(subscription.status == "past_due" && now > subscription.pastDueSince! + 7 * 86_400)
            {
                switch subscription.status {
                case "trialing":
                    subscription.status = chance(0.6) ? "active" : "canceled"
                case "past_due":
                    subscription.status = chance(0.5) ? "active" : "canceled"
                default:
                    switch Int.random(in: 0..<5, using: &random) {
                    case 0: subscription.status = "past_due"
                    case 1: subscription.status = "canceled"
                    case 2 where subscription.plan == "enterprise":
                        subscription.seats = Int.random(in: 5...60, using: &random)
                    case 2 where subscription.plan == "business":
                        subscription.addOns = ["collaborators_5": Int.random(in: 0...3, using: &random)]
                    default:
                        if subscription.plan != "enterprise" {
                            subscription.plan = subscription.plan == "pro" ? "business" : "pro"
                            if subscription.plan == "pro" { subscription.addOns = [:] }
                        }
                    }
                }
                if subscription.status == "past_due" { subscription.pastDueSince = subscription.pastDueSince ?? now }
                if subscription.status != "past_due" { subscription.pastDueSince = nil }
                try await send(subscription, customer: customer, type: "updated")
                stripe[customer] = ["canceled"].contains(subscription.status) ? nil : subscription
                return
            }
            // None, or one Tollgate has suspended after the grace period: a new subscription.
            subscriptions += 1
            let plan = pick(["pro", "business", "business", "enterprise"])
            let interval = plan == "enterprise" ? "month" : pick(["month", "year"])
            let trial = plan == "pro" && chance(0.5)
            let subscription = StripeSubscription(
                id: "sub_stripe_\(subscriptions)", status: trial ? "trialing" : "active", plan: plan,
                interval: interval, currency: pick(["EUR", "USD"]),
                seats: plan == "enterprise" ? Int.random(in: 5...60, using: &random) : nil,
                addOns: plan == "business" && chance(0.5) ? ["collaborators_5": 1] : [:],
                pastDueSince: nil)
            try await send(subscription, customer: customer, type: "created")
            stripe[customer] = subscription
        }

        func send(_ subscription: StripeSubscription, customer: String, type: String) async throws {
            let now = app.clock.now()
            stripeEvents += 1
            let suffix =
                "_\(subscription.interval == "month" ? "monthly" : "yearly")_\(subscription.currency.lowercased())"
            let item = { (id: String, key: String, quantity: Int) -> [String: Any] in
                [
                    "id": id, "quantity": quantity,
                    "price": [
                        "id": "price_\(key)", "lookup_key": key, "currency": subscription.currency.lowercased(),
                        "recurring": ["interval": subscription.interval],
                    ],
                ]
            }
            let items =
                [item("si_base", subscription.plan + suffix, subscription.seats ?? 1)]
                + subscription.addOns.sorted { $0.key < $1.key }.map { item("si_\($0.key)", $0.key + suffix, $0.value) }
            let object: [String: Any] = [
                "id": subscription.id, "object": "subscription", "customer": "cus_\(customer)",
                "status": subscription.status, "metadata": ["tollgate_customer": customer],
                "current_period_start": Int(now.timeIntervalSince1970),
                "current_period_end": Int(now.timeIntervalSince1970) + 30 * 86_400, "cancel_at_period_end": false,
                "items": ["object": "list", "data": items],
            ]
            let event: [String: Any] = [
                "id": "evt_\(stripeEvents)", "object": "event",
                "type": subscription.status == "canceled"
                    ? "customer.subscription.deleted" : "customer.subscription.\(type)",
                "created": Int(now.timeIntervalSince1970), "data": ["object": object],
            ]
            let (status, json) = try await StripeWebhookTests.deliver(client, event, signedAt: now)
            #expect(status == .ok && json["outcome"] as? String == "applied", "\(json)")
            var fields: [String: Any] = [
                "id": subscription.id, "customer": customer, "status": subscription.status, "plan": subscription.plan,
                "interval": subscription.interval, "currency": subscription.currency, "addOns": subscription.addOns,
            ]
            if let seats = subscription.seats { fields["seats"] = seats }
            record("stripe", fields)
        }

        /// The scheduler's pass at the end of each day; the customers then pay the invoices it
        /// issued (unpaid, their subscriptions would go past due after the reminders).
        func tick() async throws {
            _ = try await app.scheduler().tick()
            let now = app.clock.now()
            for invoice in try await app.store.finalizedInvoices(from: now - 86_400, to: now + 1)
            where invoice.status == .open {
                _ = try await app.store.transitionInvoice(id: invoice.id, .pay, at: now)
            }
            record("tick", [:])
        }
    }

    @Test(arguments: TestDatabase.all)
    func twoSimulatedYearsAgreeWithTheReferenceToTheMinorUnit(database: TestDatabase) async throws {
        let clock = ManualClock(Self.start)
        let catalog = try CatalogLoader.load(contentsOf: Repository.path(Self.catalogPath))
        // Time moves only when the generator says: the server's own scheduler (a service that
        // ticks every minute of real time) must not move subscriptions behind the record's back.
        try await AppHarness.run(
            database, catalog: catalog, clock: clock, configure: { $0.billingTick = .seconds(365 * 86_400) }
        ) { app, client in
            let generator = Generator(app: app, client: client, seed: 20_261_130)
            var today = Self.start
            while today < Self.end {
                clock.set(today.addingTimeInterval(8 * 3600))
                for step in Self.script where step.day == today { try await generator.play(step.customer, step.step) }
                try await generator.day()
                clock.set(today.addingTimeInterval(23 * 3600))
                try await generator.tick()
                today = today.addingTimeInterval(86_400)
            }
            let ops = Dictionary(grouping: generator.events) { $0["op"] as? String ?? "" }.mapValues(\.count)
            // The two years went through every kind of change (the seed is fixed; this guards it).
            for op in [
                "signup", "manual_subscribe", "manual_trial", "manual_change", "manual_cancel", "stripe", "consume",
                "track",
            ] {
                #expect((ops[op] ?? 0) >= 5, "\(op): \(ops)")
            }

            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tollgate-oracle-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let recordFile = directory.appendingPathComponent("record.json")
            try JSONSerialization.data(withJSONObject: ["events": generator.events], options: [.sortedKeys])
                .write(to: recordFile)
            let computed = try await PeerProcess.run(
                try PythonPeers.interpreter,
                [
                    Repository.path("Tests/peers/analytics_reference.py"), Repository.path(Self.catalogPath),
                    recordFile.path, "2025-01-01", "2027-01-01",
                ])
            #expect(computed.status == 0, "\(computed.stderr)")
            let reference = try #require(
                try JSONSerialization.jsonObject(with: Data(computed.stdout.utf8)) as? [String: Any])
            var compared = 0
            func compare(_ got: [[String: Any]], _ want: [[String: Any]], _ what: String) {
                #expect(got.count == want.count, "\(what): \(got.count) rows, the reference \(want.count)")
                for (row, expected) in zip(got, want) {
                    for (field, value) in expected {
                        compared += 1
                        #expect(
                            Self.same(row[field], value),
                            """
                            \(what) \(expected.string("start") ?? expected.string("plan") ?? "") \(field): \
                            Tollgate \(row[field] ?? "nil"), reference \(value)
                            """
                        )
                    }
                }
            }

            let revenue = try #require(reference["revenue"] as? [String: [[String: Any]]])
            for currency in ["EUR", "USD"] {
                let answer = try await client.call(
                    .get, "/v1/analytics/revenue?currency=\(currency)&interval=month&from=2025-01-01&to=2027-01-01",
                    key: app.adminKey)
                let expected = try #require(revenue[currency])
                compare(try #require(answer.json["intervals"] as? [[String: Any]]), expected, "revenue \(currency)")
                #expect(expected.count == 24 && expected.contains { ($0["mrrEnd"] as? Int ?? 0) > 0 })
            }
            let customers = try await client.call(
                .get, "/v1/analytics/customers?interval=month&from=2025-01-01&to=2027-01-01", key: app.adminKey)
            compare(
                try #require(customers.json["intervals"] as? [[String: Any]]),
                try #require(reference["customers"] as? [[String: Any]]), "customers")
            let usage = try #require(reference["usage"] as? [[[String: Any]]])
            #expect(usage.count == 24)
            var prompts = 0
            for (index, expected) in usage.enumerated() {
                let from = PeriodMath.utcCalendar.date(byAdding: .month, value: index, to: Self.start)!
                let to = PeriodMath.utcCalendar.date(byAdding: .month, value: 1, to: from)!
                let answer = try await client.call(
                    .get, "/v1/analytics/usage?from=\(Self.day(from))&to=\(Self.day(to))", key: app.adminKey)
                compare(try #require(answer.json["features"] as? [[String: Any]]), expected, "usage \(Self.day(from))")
                prompts += expected.reduce(0) { $0 + ($1["upgradedWithin14Days"] as? Int ?? 0) }
            }
            #expect(prompts > 0, "some refused customers upgraded within 14 days")

            let activity = try #require(reference["activity"] as? [[[String: Any]]])
            for (year, expected) in zip(["2025", "2026"], activity) {
                let next = year == "2025" ? "2026" : "2027"
                let answer = try await client.call(
                    .get, "/v1/analytics/activity?from=\(year)-01-01&to=\(next)-01-01", key: app.adminKey)
                compare(try #require(answer.json["days"] as? [[String: Any]]), expected, "activity \(year)")
            }
            let adoption = try #require(reference["adoption"] as? [[String: Any]])
            for (index, expected) in adoption.enumerated() {
                let from = PeriodMath.utcCalendar.date(byAdding: .month, value: index, to: Self.start)!
                let to = PeriodMath.utcCalendar.date(byAdding: .month, value: 1, to: from)!
                let answer = try await client.call(
                    .get, "/v1/analytics/adoption?from=\(Self.day(from))&to=\(Self.day(to))", key: app.adminKey)
                #expect(answer.json.int("activeCustomers") == expected.int("activeCustomers"), "\(Self.day(from))")
                compare(
                    try #require(answer.json["adoption"] as? [[String: Any]]),
                    try #require(expected["adoption"] as? [[String: Any]]), "adoption \(Self.day(from))")
            }
            let retention = try await client.call(
                .get, "/v1/analytics/retention?from=2025-01-01&to=2027-01-01", key: app.adminKey)
            compare(
                try #require(retention.json["cohorts"] as? [[String: Any]]),
                try #require(reference["retention"] as? [[String: Any]]), "retention")
            #expect(compared > 2 * 24 * 16 + 24 * 8)
        }
    }

    static func day(_ date: Date) -> String { String(date.formatted(.iso8601).prefix(10)) }

    /// Integers exactly; rates to the last bits of a double (both sides divide the same integers).
    static func same(_ got: Any?, _ want: Any) -> Bool {
        switch (got, want) {
        case (let got as [String: Any], let want as [String: Any]):
            return got.count == want.count && want.allSatisfy { same(got[$0.key], $0.value) }
        case (let got as [Any], let want as [Any]):
            return got.count == want.count && zip(got, want).allSatisfy { same($0, $1) }
        case (is NSNull, is NSNull): return true
        case (let got as NSNumber, let want as NSNumber):
            return abs(got.doubleValue - want.doubleValue) <= 1e-12 * max(1, abs(want.doubleValue))
        case (let got as String, let want as String): return got == want
        default: return false
        }
    }
}
