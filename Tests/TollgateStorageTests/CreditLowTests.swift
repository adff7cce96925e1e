import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateMeter
import TollgateNotify
import TollgateSQL
import TollgateStorage

/// `credits.low` when a debit or a committed reservation takes the balance to
/// the catalog's threshold or below — once per crossing, again after a top-up.
@Suite struct CreditLowTests {
    static let catalogYAML = """
        product: renzo-test
        defaultPlan: free
        creditTypes: [credits, bonus]
        creditLowBalance: { credits: 10 }
        features:
          staging: { type: metered, creditCost: { amount: 3 } }
        plans:
          - id: free
            order: 0
            features: { staging: unlimited }
        """

    @Test(arguments: TestDatabase.all)
    func aBalanceCrossingTheThresholdIsToldOncePerCrossing(database: TestDatabase) async throws {
        let catalog = try CatalogLoader.load(yaml: Self.catalogYAML)
        #expect(catalog.creditLowBalance == ["credits": 10])
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await database.withStore { store, _ in
            _ = try await store.createCustomer(
                CustomerRecord(
                    id: "c1", email: "c1@example.com", name: nil, planId: "free", billingAnchor: clock.now(),
                    createdAt: clock.now(), updatedAt: clock.now()))
            let credits = CreditService(catalog: catalog, store: store, clock: clock)
            func grant(_ amount: Int64, _ key: String) async throws {
                _ = try await credits.grant(
                    customerId: "c1", amount: amount, creditType: "credits", expiresAt: nil, priority: 0,
                    reason: .purchase, reference: nil, idempotencyKey: key)
            }
            func debit(_ amount: Int64, _ key: String) async throws {
                _ = try await credits.debit(
                    customerId: "c1", amount: amount, creditType: "credits", reference: nil, idempotencyKey: key)
            }
            func told() async throws -> [Int64] {
                try await store.outboxMessages(recipient: "customer:c1").filter { $0.kind == "event.credits.low" }.map {
                    let body = try JSONSerialization.jsonObject(with: Data($0.payload.utf8)) as? [String: Any]
                    return ((body?["data"] as? [String: Any])?["balance"] as? Int).map(Int64.init) ?? -1
                }
            }
            try await grant(30, "g1")
            try await debit(15, "d1")
            #expect(try await told().isEmpty, "15 left: above 10")
            try await debit(5, "d2")
            try await debit(5, "d2") // a retry: the first answer, nothing told twice
            #expect(try await told() == [10], "at the threshold")
            try await debit(3, "d3")
            #expect(try await told() == [10], "already low")
            try await grant(20, "g2")
            let hold = try await credits.reserve(
                customerId: "c1", amount: 20, creditType: "credits", ttlSeconds: 600, idempotencyKey: "r1")
            _ = try await credits.commit(reservationId: try #require(hold.reservation), amount: 18)
            #expect(try await told().sorted() == [9, 10], "topped up to 27, then a committed job took it to 9")
            #expect(EventFanOut.mailKind(ofEvent: "credits.low", data: [:]) == "email.credits_low")
        }
    }
}
