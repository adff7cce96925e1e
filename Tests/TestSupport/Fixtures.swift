import Foundation
import TollgateCore
import TollgateStorage

public enum Fixtures {
    /// A small catalog with every kind of feature, for tests that need exact numbers.
    public static let catalogYAML = """
        product: test
        defaultPlan: free
        features:
          notes: { type: limit }
          searches: { type: metered }
          starter: { type: metered }
          api_access: { type: boolean }
        plans:
          - id: free
            order: 0
            features:
              notes: 3
              searches: 0
              starter: { limit: 5, period: lifetime }
          - id: pro
            order: 1
            prices: [{ currency: EUR, amount: 990 }]
            features:
              notes: unlimited
              searches: { limit: 100, period: monthly }
              starter: { limit: 50, period: monthly }
              api_access: true
          - id: scale
            order: 2
            prices: [{ currency: EUR, amount: 9900 }]
            features:
              notes: unlimited
              searches: unlimited
              starter: unlimited
              api_access: true
        """

    public static var catalog: Catalog {
        get throws { try CatalogLoader.load(yaml: catalogYAML) }
    }

    /// 2026-01-31 23:59:59 UTC: one second before a monthly turnover.
    public static let endOfJanuary = Date(timeIntervalSince1970: 1_769_903_999)

    public static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0)
        -> Date
    {
        PeriodMath.utcCalendar.date(
            from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
    }
}

extension UsageBatch {
    /// One entry carrying all `deltas` and the first record; further records in entries of their own.
    public init(deltas: [CounterDelta], idempotencyRecords: [IdempotencyRecord], at: Date) {
        var entries = [UsageEntry(deltas: deltas, record: idempotencyRecords.first)]
        entries += idempotencyRecords.dropFirst().map { UsageEntry(deltas: [], record: $0) }
        self.init(entries: entries, at: at)
    }
}
