import Foundation
import TestSupport
import Testing
import TollgateAnalytics
import TollgateCore
import TollgateStorage

/// The reports as every door reads them, over both databases.
@Suite struct AnalyticsReportsTests {
    @Test(arguments: TestDatabase.all)
    func anUnusedFeatureIsStillInTheAdoptionReport(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let catalog = try Fixtures.catalog
            let reports = AnalyticsReports(reads: store)
            let from = Fixtures.utc(2026, 5, 1)
            let (active, adoption) = try await reports.adoption(
                from: from, to: from.addingTimeInterval(86_400), catalog: catalog)
            #expect(active == 0)
            let metered = catalog.features.filter { $0.type != .boolean }.map(\.id).sorted()
            #expect(!metered.isEmpty)
            #expect(adoption.map(\.name).sorted() == metered)
            #expect(adoption.allSatisfy { $0.customers == 0 && $0.source == .feature })
        }
    }

    @Test(arguments: TestDatabase.all)
    func activityHasADayForEveryDayOfTheWindowAndNoRevenueIsZero(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let reports = AnalyticsReports(reads: store)
            let from = Fixtures.utc(2026, 5, 1)
            let days = try await reports.activity(from: from, to: Fixtures.utc(2026, 5, 8))
            #expect(days.count == 7 && days.allSatisfy { $0.dau == 0 && $0.mau == 0 })
            let revenue = try await reports.revenue(
                currency: Currency("EUR")!, from: from, to: Fixtures.utc(2026, 8, 1), interval: .month)
            #expect(revenue.count == 3)
            #expect(revenue.allSatisfy { $0.mrrEnd == 0 })
        }
    }
}
