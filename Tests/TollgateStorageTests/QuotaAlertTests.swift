import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateMeter
import TollgateNotify
import TollgateSQL
import TollgateStorage

/// A quota alert is decided by the commit that crosses the threshold and
/// written in it — exactly once per threshold, counter and period, whatever the concurrency.
@Suite struct QuotaAlertTests {
    struct Told: Decodable, Equatable {
        struct Data: Decodable, Equatable {
            let customerId: String?
            let feature: String
            let percent: Int
            let limit: Int64
            let used: Int64
        }
        let type: String
        let data: Data
    }

    static func alerts(_ store: SQLStore, _ subject: String) async throws -> [Told] {
        try await store.outboxMessages(recipient: subject).filter { $0.kind.hasPrefix("event.usage.") }.map {
            try JSONDecoder().decode(Told.self, from: Data($0.payload.utf8))
        }
    }

    static func consumeConcurrently(_ meter: Meter, count: Int, prefix: String) async throws -> Int {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<count {
                group.addTask {
                    try await meter.consume(
                        customerId: "c1", featureId: "searches", amount: 1, idempotencyKey: "\(prefix)\(index)"
                    ).allowed
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
    }

    @Test(arguments: TestDatabase.all)
    func twoHundredConcurrentConsumesRaiseEachAlertOnceAndANewMonthRearmsThem(database: TestDatabase)
        async throws
    {
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await database.withStore { store, _ in
            try await MeterHarness.withService(store: store, catalog: try Fixtures.catalog, clock: clock) { meter in
                _ = try await meter.customers.createCustomer(id: "c1", email: "c1@example.com", name: nil)
                _ = try await meter.customers.changePlan(customerId: "c1", planId: "pro") // searches: 100 a month
                #expect(try await Self.consumeConcurrently(meter, count: 200, prefix: "may-") == 100)
                // A group commit may take the counter from below 80 past it: `used` is where it landed.
                let may = try await Self.alerts(store, "customer:c1").sorted { $0.data.percent < $1.data.percent }
                #expect(may.map(\.type) == ["usage.threshold_reached", "usage.limit_reached"])
                #expect(may.map(\.data.percent) == [80, 100])
                #expect(may.allSatisfy { $0.data.customerId == "c1" && $0.data.feature == "searches" })
                #expect(may.allSatisfy { $0.data.limit == 100 && $0.data.used >= Int64($0.data.percent) })
                #expect(may.last?.data.used == 100)

                // Fanned out (twice, as after a crash mid-fan-out): one mail and one webhook each.
                try await store.createWebhookEndpoint(
                    WebhookEndpointRecord(
                        id: "we_1", url: "https://93.184.215.14/hook", description: nil, eventTypes: [],
                        sealedSecret: "sealed", createdAt: clock.now()))
                let events = try await store.outboxMessages(recipient: "customer:c1").filter {
                    $0.kind.hasPrefix("event.usage.")
                }
                for _ in 0..<2 {
                    for event in events {
                        let type = try #require(OutboxEvent.type(ofKind: event.kind))
                        let messages = try await EventFanOut(store: store).messages(
                            for: event, type: type, at: clock.now())
                        try await store.fanOut(eventId: event.id, into: messages, at: clock.now())
                    }
                }
                let mails = try await store.outboxMessages(recipient: "c1@example.com")
                #expect(mails.count == 2, "one mail per threshold")
                // Each names the customer's plan: the mail leads to the paywall of the plan above it.
                #expect(mails.allSatisfy { $0.payload.contains(#""plan":"pro""#) }, "\(mails.map(\.payload))")
                #expect(try await store.webhookMessages(endpointId: "we_1", limit: 10).count == 2, "one webhook each")

                // The counter taken down and across the thresholds again in the same period (a
                // correction written straight to the store): the alerts were told already.
                let window = PeriodMath.window(.monthly, containing: clock.now(), anchor: .distantPast)
                let key = CounterKey(
                    subject: "customer:c1", feature: "searches", periodStartMillis: Millis.from(window.start))
                for delta: Int64 in [-30, 30] {
                    try await store.commit(
                        UsageBatch(
                            entries: [
                                UsageEntry(
                                    deltas: [
                                        CounterDelta(
                                            key: key, period: "monthly", periodEndMillis: nil, delta: delta,
                                            alert: CounterAlert(limit: 100, percents: [80, 100]))
                                    ], record: nil)
                            ], at: clock.now()))
                }
                #expect(try await store.counterValue(key) == 100)
                #expect(try await Self.alerts(store, "customer:c1").count == 2)

                clock.set(Fixtures.utc(2026, 6, 2))
                #expect(try await Self.consumeConcurrently(meter, count: 85, prefix: "june-") == 85)
                let june = try await Self.alerts(store, "customer:c1").dropFirst(2)
                #expect(june.map(\.type) == ["usage.threshold_reached"])
                #expect(june.first.map { $0.data.used >= 80 } == true)
            }
        }
    }

    @Test func aFeatureWithoutAlertsOrWithoutALimitRaisesNone() async throws {
        let catalog = try CatalogLoader.load(
            yaml: """
                product: quiet
                defaultPlan: free
                features:
                  searches: { type: metered, alerts: [] }
                  exports: { type: metered }
                plans:
                  - id: free
                    name: Free
                    order: 0
                    features: { searches: { limit: 5, period: monthly }, exports: unlimited }
                """)
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await TestDatabase.sqlite.withStore { store, _ in
            try await MeterHarness.withService(store: store, catalog: catalog, clock: clock) { meter in
                _ = try await meter.customers.createCustomer(id: "c1", email: nil, name: nil)
                for feature in ["searches", "exports"] {
                    for index in 0..<6 {
                        _ = try await meter.consume(
                            customerId: "c1", featureId: feature, amount: 1, idempotencyKey: "\(feature)\(index)")
                    }
                }
                #expect(try await Self.alerts(store, "customer:c1").isEmpty)
            }
        }
    }

    /// Three nodes serving one counter from their leases: the crossing is seen by the commit
    /// against the shared counter, so each threshold is told once between them.
    @Test(.enabled(if: TestDatabase.postgresConfigured, "several nodes need PostgreSQL"))
    func threeNodesRaiseEachAlertOnceBetweenThem() async throws {
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await ClusterNodes.withThree(catalog: try Fixtures.catalog, clock: clock) { nodes, first in
            _ = try await nodes[0].customers.createCustomer(id: "c1", email: nil, name: nil)
            _ = try await nodes[0].customers.changePlan(customerId: "c1", planId: "pro")
            let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
                for (index, node) in nodes.enumerated() {
                    group.addTask { try await Self.consumeConcurrently(node, count: 70, prefix: "n\(index)-") }
                }
                return try await group.reduce(0, +)
            }
            #expect(accepted == 100)
            #expect(try await Self.alerts(first, "customer:c1").map(\.data.percent).sorted() == [80, 100])
        }
    }
}
