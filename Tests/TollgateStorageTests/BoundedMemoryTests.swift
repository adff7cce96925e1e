import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateMeter
import TollgateSQL
import TollgateStorage

/// What the meter keeps in memory follows the current windows and the caches'
/// capacities, not every customer and window ever seen.
@Suite struct BoundedMemoryTests {
    @Test(arguments: TestDatabase.all)
    func countersOfEndedWindowsAreEvictedAndTheirCountsStayStored(database: TestDatabase) async throws {
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await database.withStore { store, _ in
            try await MeterHarness.withService(store: store, catalog: try Fixtures.catalog, clock: clock) { service in
                for index in 0..<20 {
                    _ = try await service.customers.createCustomer(id: "c\(index)", email: nil, name: nil)
                    _ = try await service.customers.changePlan(customerId: "c\(index)", planId: "pro")
                    _ = try await service.consume(
                        customerId: "c\(index)", featureId: "searches", amount: 3, idempotencyKey: "may-\(index)")
                }
                #expect(service.liveCounters == 20)
                // Still May: nothing has ended.
                #expect(service.evictPastWindows() == 0)
                // June, past the grace: May's counters go; June's start from zero.
                clock.advance(by: 18 * 86_400 + 3_600)
                #expect(service.evictPastWindows() == 20 && service.liveCounters == 0)
                let june = try await service.consume(
                    customerId: "c0", featureId: "searches", amount: 1, idempotencyKey: "june-0")
                #expect(june.allowed && june.used == 1)
                // May's count is still in the store.
                let history = try await store.usageHistory(
                    subject: "customer:c0", from: Fixtures.utc(2026, 5, 1), to: Fixtures.utc(2026, 6, 1))
                #expect(history.first { $0.feature == "searches" }?.used == 3)
                // A lifetime counter is never a past window.
                _ = try await service.customers.changePlan(customerId: "c1", planId: "free")
                _ = try await service.consume(customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "l")
                clock.advance(by: 400 * 86_400)
                service.evictPastWindows()
                #expect(try await service.check(customerId: "c1", featureId: "starter", amount: 1).used == 1)
            }
        }
    }

    @Test func theCustomerCacheHoldsAtMostItsCapacity() async throws {
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await TestDatabase.sqlite.withStore { store, _ in
            let committer = GroupCommitter(store: store, clock: clock, logger: TestDatabase.logger)
            let service = Meter(
                customers: CustomerDirectory(
                    catalog: try Fixtures.catalog, store: store, clock: clock, logger: TestDatabase.logger,
                    capacity: 8),
                store: store, committer: committer, clock: clock)
            for index in 0..<50 {
                _ = try await service.customers.createCustomer(id: "c\(index)", email: nil, name: nil)
                #expect(service.customers.cached <= 8)
            }
            // Evicted customers are read back from the store.
            #expect(try await service.customers.customer(id: "c0").id == "c0")
            #expect(service.customers.cached == 8)
        }
    }
}
