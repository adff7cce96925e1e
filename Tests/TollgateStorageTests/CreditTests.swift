import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateMeter
import TollgateSQL
import TollgateStorage

/// The credit ledger over real stores: never overspent, never out of balance, idempotent.
@Suite struct CreditTests {
    static let catalogYAML = """
        product: renzo-test
        defaultPlan: free
        creditTypes: [credits, bonus]
        features:
          staging: { type: metered, creditCost: { amount: 3 } }
        plans:
          - id: free
            order: 0
            creditGrants: [{ amount: 5, period: lifetime }]
            features: { staging: unlimited }
          - id: solo
            order: 1
            prices: [{ currency: EUR, amount: 2900 }]
            creditGrants: [{ amount: 100, period: monthly, rollover: false }]
            features: { staging: unlimited }
          - id: agency
            order: 2
            prices: [{ currency: EUR, amount: 7900 }]
            creditOverdraft: 20
            features: { staging: unlimited }
        """

    func withCredits(
        _ database: TestDatabase, clock: ManualClock = ManualClock(Fixtures.utc(2026, 5, 14)),
        _ body: @escaping @Sendable (CreditService, SQLStore, ManualClock) async throws -> Void
    ) async throws {
        let catalog = try CatalogLoader.load(yaml: Self.catalogYAML)
        try await database.withStore { store, _ in
            for id in ["c1", "c2"] {
                _ = try await store.createCustomer(
                    CustomerRecord(
                        id: id, email: nil, name: nil, planId: "free", billingAnchor: clock.now(),
                        createdAt: clock.now(), updatedAt: clock.now()))
            }
            try await body(CreditService(catalog: catalog, store: store, clock: clock), store, clock)
        }
    }

    func balance(_ credits: CreditService, _ customer: String, _ type: String = "credits") async throws
        -> CreditService.Balance
    {
        try #require(try await credits.balances(customerId: customer).first { $0.creditType == type })
    }

    @Test(arguments: TestDatabase.all)
    func concurrentDebitsNeverOverspend(database: TestDatabase) async throws {
        try await withCredits(database) { credits, store, _ in
            _ = try await credits.grant(
                customerId: "c1", amount: 95, creditType: nil, expiresAt: nil, priority: 0, reason: .purchase,
                reference: "pack", idempotencyKey: "g1")
            // 5 from the free plan's starter pack, 95 bought: 100 in all; 60 callers ask for 2 each.
            let taken = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<60 {
                    group.addTask {
                        do {
                            _ = try await credits.debit(
                                customerId: "c1", amount: 2, creditType: nil, reference: nil,
                                idempotencyKey: "d\(index)")
                            return true
                        } catch let error as DomainError where error.code == .insufficientCredits {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(taken == 50)
            let after = try await balance(credits, "c1")
            #expect(after.state.balance == 0 && after.available == 0)
            #expect(try await store.ledgerSum(subject: "c1", creditType: "credits") == 0)
            #expect(try await credits.history(customerId: "c1", creditType: nil, before: nil, limit: 1000).count == 52)
        }
    }

    @Test(arguments: TestDatabase.all)
    func grantsAreIdempotentDrawnInOrderAndExpiredRemaindersWrittenOffAtExpiry(database: TestDatabase) async throws {
        try await withCredits(database) { credits, store, clock in
            let soon = clock.now() + 3600
            let first = try await credits.grant(
                customerId: "c1", amount: 10, creditType: nil, expiresAt: soon, priority: 0, reason: .grant,
                reference: nil, idempotencyKey: "a")
            let again = try await credits.grant(
                customerId: "c1", amount: 10, creditType: nil, expiresAt: soon, priority: 0, reason: .grant,
                reference: nil, idempotencyKey: "a")
            #expect(first == again)
            await #expect(throws: DomainError.self) {
                try await credits.grant(
                    customerId: "c1", amount: 11, creditType: nil, expiresAt: soon, priority: 0, reason: .grant,
                    reference: nil, idempotencyKey: "a")
            }
            _ = try await credits.grant(
                customerId: "c1", amount: 10, creditType: nil, expiresAt: nil, priority: 0, reason: .purchase,
                reference: nil, idempotencyKey: "b")
            // The starter pack (5, never expires) and the purchase (10) stay; the soonest-expiring
            // grant is drawn first.
            _ = try await credits.debit(
                customerId: "c1", amount: 4, creditType: nil, reference: nil, idempotencyKey: "d1")
            #expect(try await balance(credits, "c1").state.grants.first { $0.expiresAt == soon }?.remaining == 6)
            clock.advance(by: 7200)
            _ = try await credits.debit(
                customerId: "c1", amount: 1, creditType: nil, reference: nil, idempotencyKey: "d2")
            let history = try await credits.history(customerId: "c1", creditType: nil, before: nil, limit: 100)
            let expiry = try #require(history.first { $0.reason == "expiry" })
            #expect(expiry.delta == -6 && expiry.at == soon)
            #expect(history.first?.balanceAfter == 14)
            #expect(try await store.ledgerSum(subject: "c1", creditType: "credits") == 14)
            // Pages with a cursor cover everything once.
            let page1 = try await credits.history(customerId: "c1", creditType: nil, before: nil, limit: 2)
            let page2 = try await credits.history(
                customerId: "c1", creditType: nil, before: page1.last?.seq, limit: 100)
            #expect((page1 + page2).map(\.seq) == history.map(\.seq))
        }
    }

    @Test(arguments: TestDatabase.all)
    func reservationsHoldCommitTheActualCostAndExpire(database: TestDatabase) async throws {
        try await withCredits(database) { credits, store, clock in
            _ = try await credits.grant(
                customerId: "c1", amount: 25, creditType: nil, expiresAt: nil, priority: 0, reason: .purchase,
                reference: nil, idempotencyKey: "g")
            let hold = try await credits.reserve(
                customerId: "c1", amount: 20, creditType: nil, ttlSeconds: 60, idempotencyKey: "r1")
            let reservation = try #require(hold.reservation)
            #expect(hold.available == 10 && hold.balance == 30)
            // Held credits cannot be spent twice.
            await #expect(throws: DomainError.self) {
                try await credits.debit(
                    customerId: "c1", amount: 11, creditType: nil, reference: nil, idempotencyKey: "x")
            }
            await #expect(throws: DomainError.self) {
                try await credits.reserve(
                    customerId: "c1", amount: 11, creditType: nil, ttlSeconds: 60, idempotencyKey: "r2")
            }
            await #expect(throws: DomainError.self) { try await credits.commit(reservationId: reservation, amount: 21) }
            let committed = try await credits.commit(reservationId: reservation, amount: 12)
            #expect(committed.balance == 18 && committed.available == 18 && committed.reservationStatus == "committed")
            #expect(try await credits.commit(reservationId: reservation, amount: 12) == committed)
            await #expect(throws: DomainError.self) { try await credits.release(reservationId: reservation) }
            // A released hold frees everything; an expired one frees itself.
            let second = try #require(
                try await credits.reserve(
                    customerId: "c1", amount: 10, creditType: nil, ttlSeconds: 60, idempotencyKey: "r3"
                ).reservation)
            #expect(try await credits.release(reservationId: second).available == 18)
            _ = try await credits.reserve(
                customerId: "c1", amount: 18, creditType: nil, ttlSeconds: 60, idempotencyKey: "r4")
            #expect(try await balance(credits, "c1").available == 0)
            clock.advance(by: 61)
            #expect(try await balance(credits, "c1").available == 18)
            _ = try await credits.debit(
                customerId: "c1", amount: 18, creditType: nil, reference: nil, idempotencyKey: "d")
            #expect(try await store.ledgerSum(subject: "c1", creditType: "credits") == 0)
            await #expect(throws: DomainError.self) {
                try await credits.commit(reservationId: "res_nothing", amount: 1)
            }
        }
    }

    @Test(arguments: TestDatabase.all)
    func plansGrantCreditsEachPeriodAndAllowTheirOverdraft(database: TestDatabase) async throws {
        try await withCredits(database) { credits, store, clock in
            #expect(try await balance(credits, "c2").state.balance == 5)
            #expect(try await balance(credits, "c2").state.balance == 5, "the starter pack is granted once")
            _ = try await store.changePlan(customerId: "c2", planId: "solo", at: clock.now())
            #expect(try await balance(credits, "c2").state.balance == 105)
            _ = try await credits.debit(
                customerId: "c2", amount: 30, creditType: nil, reference: nil, idempotencyKey: "d1")
            // Next month: the unused monthly credits expire, 100 new ones arrive.
            clock.set(Fixtures.utc(2026, 6, 2))
            #expect(try await balance(credits, "c2").state.balance == 105)
            _ = try await store.changePlan(customerId: "c2", planId: "agency", at: clock.now())
            _ = try await credits.debit(
                customerId: "c2", amount: 120, creditType: nil, reference: nil, idempotencyKey: "d2")
            let overdrawn = try await balance(credits, "c2")
            #expect(overdrawn.state.balance == -15 && overdrawn.state.overdrawn == 15 && overdrawn.available == 5)
            await #expect(throws: DomainError.self) {
                try await credits.debit(
                    customerId: "c2", amount: 6, creditType: nil, reference: nil, idempotencyKey: "d3")
            }
            // A purchase pays the overdraft back first.
            let topUp = try await credits.grant(
                customerId: "c2", amount: 50, creditType: nil, expiresAt: nil, priority: 0, reason: .purchase,
                reference: nil, idempotencyKey: "p")
            #expect(topUp.balance == 35)
            #expect(try await balance(credits, "c2").state.overdrawn == 0)
            #expect(try await store.ledgerSum(subject: "c2", creditType: "credits") == 35)
            // Credit types are separate accounts.
            #expect(try await balance(credits, "c2", "bonus").state.balance == 0)
            await #expect(throws: DomainError.self) {
                try await credits.debit(
                    customerId: "c2", amount: 1, creditType: "gold", reference: nil, idempotencyKey: "g")
            }
        }
    }

    /// Features priced in credits: a consume counts the usage and debits its cost, once.
    @Test(arguments: TestDatabase.all)
    func consumingACreditPricedFeatureDebitsItsCostOnce(database: TestDatabase) async throws {
        let catalog = try CatalogLoader.load(yaml: Self.catalogYAML)
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await database.withStore { store, _ in
            let credits = CreditService(catalog: catalog, store: store, clock: clock)
            let committer = GroupCommitter(store: store, clock: clock, logger: TestDatabase.logger)
            let service = Meter(
                customers: CustomerDirectory(catalog: catalog, store: store, clock: clock, logger: TestDatabase.logger),
                store: store, committer: committer, clock: clock,
                credits: credits)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await committer.run() }
                _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
                // 5 starter credits: one staging (3) fits, a second does not.
                let first = try await service.consume(
                    customerId: "c1", featureId: "staging", amount: 1, idempotencyKey: "j1")
                #expect(first.allowed && first.used == 1)
                #expect(
                    try await service.consume(customerId: "c1", featureId: "staging", amount: 1, idempotencyKey: "j1")
                        == first)
                let refused = try await service.consume(
                    customerId: "c1", featureId: "staging", amount: 1, idempotencyKey: "j2")
                #expect(!refused.allowed && refused.reason == .insufficientCredits && refused.used == 1)
                #expect(
                    try await credits.balances(customerId: "c1").first { $0.creditType == "credits" }?.state.balance
                        == 2)
                #expect(try await service.check(customerId: "c1", featureId: "staging", amount: 1).used == 1)
                group.cancelAll()
            }
        }
    }
}
