import Foundation
import SQLKit
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

/// Subscriptions stored before movements were recorded get their present MRR
/// recorded once, as new revenue from their current period's start.
@Suite struct RevenueBackfillTests {
    static let catalogYAML = """
        product: backfill
        defaultPlan: free
        features: { notes: { type: limit } }
        plans:
          - { id: free, order: 0, features: {} }
          - id: pro
            order: 1
            prices: [{ currency: EUR, amount: 990 }, { currency: USD, interval: year, amount: 12000 }]
            features: {}
        """

    @Test(arguments: TestDatabase.all)
    func earlierSubscriptionsAreRecordedOnceAsNewRevenue(database: TestDatabase) async throws {
        let catalog = try CatalogLoader.load(yaml: Self.catalogYAML)
        let start = Fixtures.utc(2026, 3, 14)
        try await database.withStore { store, _ in
            let mrr: @Sendable ([Subscription]) -> [Currency: Int64] = { Revenue.mrr(of: $0, catalog: catalog) }
            for (customer, currency, interval) in [("c1", "EUR", BillingInterval.month), ("c2", "USD", .year)] {
                _ = try await store.createCustomer(
                    CustomerRecord(
                        id: customer, email: nil, name: nil, planId: "free", billingAnchor: start, createdAt: start,
                        updatedAt: start))
                let subscription = Subscription(
                    id: "sub_\(customer)", subject: customer, planId: "pro", interval: interval,
                    currency: Currency(currency)!, status: .active, currentPeriodStart: start,
                    currentPeriodEnd: start + 30 * 86_400, hasPaymentMethod: true)
                try await store.putSubscription(
                    subscription, provider: "manual", version: 0, changedAt: Millis.from(start))
                try await store.recordRevenueMovements(
                    subject: customer, from: [:], to: mrr([subscription]), plan: "pro", cause: "e-\(customer)",
                    at: start)
                _ = try await store.entitle(
                    subject: customer, plan: "pro", anchor: start, status: CustomerStatus.of([subscription]),
                    addOns: nil, at: start)
            }
            #expect(try await store.backfillRevenueMovements(mrr: mrr) == 0, "movements exist: nothing to do")
            // As before migration 22: subscriptions, no movements.
            try await store.provider.transaction { db in try await db.raw("DELETE FROM revenue_movements").run() }
            #expect(try await store.backfillRevenueMovements(mrr: mrr) == 2)
            #expect(try await store.backfillRevenueMovements(mrr: mrr) == 0, "once")
            let movements = try await store.revenueMovements(from: .distantPast, to: .distantFuture)
            #expect(movements.map(\.movement.kind) == [.new, .new])
            #expect(movements.map(\.movement.amount).sorted() == [990, 1000], "12000 a year is 1000 a month")
            #expect(movements.allSatisfy { $0.at == start && $0.planId == "pro" })
        }
    }
}
