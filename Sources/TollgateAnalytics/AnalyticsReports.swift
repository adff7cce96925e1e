import Foundation
import TollgateCore
import TollgateStorage

/// The reports an operator reads — revenue, customers, usage, activity, adoption, retention —
/// assembled once, here, for every door that shows them (the API's analytics routes, the
/// console's overview and usage pages, `tollgate bench`) from the read model's rollups and the
/// pure series of TollgateCore.
public struct AnalyticsReports: Sendable {
    let reads: any ReadModel

    public init(reads: any ReadModel) {
        self.reads = reads
    }

    /// The revenue report's periods of `interval` from `from` to `to` in `currency`, from the
    /// daily rollups. The last interval is whole, even when `to` falls inside it.
    public func revenue(currency: Currency, from: Date, to: Date, interval: RevenueSeries.Interval)
        async throws -> [RevenueSeries.Period]
    {
        let end = RevenueSeries.boundaries(from: from, to: to, interval: interval).last ?? to
        async let days = reads.revenueDays(currency: currency, before: end)
        async let trials = reads.trialDays(currency: currency, before: end)
        return RevenueSeries.compute(
            days: try await days, trials: try await trials, from: from, to: to, interval: interval)
    }

    /// The usage report of [from, to): the figures per feature and plan, with the conversion of
    /// the window's upgrade prompts.
    public func usage(from: Date, to: Date, ladder: [String: Int]) async throws -> [UsageReport.Row] {
        UsageReport.rows(
            try await reads.usageFigures(from: from, to: to),
            conversions: try await reads.upgradeConversions(from: from, to: to, ladder: ladder), ladder: ladder)
    }

    /// Customers per plan and status over the periods of `interval`.
    public func customers(from: Date, to: Date, interval: RevenueSeries.Interval) async throws
        -> [CustomerSeries.Period]
    {
        CustomerSeries.compute(try await reads.customerStates(before: to), from: from, to: to, interval: interval)
    }

    /// Daily, weekly and monthly active customers for each day of [from, to).
    public func activity(from: Date, to: Date) async throws -> [ActivitySeries.Day] {
        // MAU looks 29 days back from the first day.
        let active = try await reads.activeDays(from: from.addingTimeInterval(-29 * 86_400), to: to)
        return ActivitySeries.days(active.map { ($0.customerId, $0.day) }, from: from, to: to)
    }

    /// The customers active in [from, to), and how many used each feature and event; every
    /// metered feature of `catalog` appears, used or not.
    public func adoption(from: Date, to: Date, catalog: Catalog) async throws
        -> (activeCustomers: Int, adoption: [AdoptionCount])
    {
        let active = Set(try await reads.activeDays(from: from, to: to).map(\.customerId)).count
        let counts = try await reads.adoption(from: from, to: to)
        var byName = Dictionary(counts.map { ("\($0.source.rawValue):\($0.name)", $0) }) { first, _ in first }
        for feature in catalog.features where feature.type != .boolean && byName["feature:\(feature.id)"] == nil {
            byName["feature:\(feature.id)"] = AdoptionCount(name: feature.id, source: .feature, customers: 0)
        }
        let entries = byName.values.sorted {
            ($0.source.rawValue, -$0.customers, $0.name) < ($1.source.rawValue, -$1.customers, $1.name)
        }
        return (active, entries)
    }

    /// Monthly sign-up cohorts of [start, end) and how many of each were active every month since.
    public func retention(from start: Date, to end: Date) async throws -> [ActivitySeries.Cohort] {
        let signUps = try await reads.signUps(before: end)
        let active = try await reads.activeDays(from: start, to: end)
        return ActivitySeries.cohorts(
            signUps: signUps, active: active.map { ($0.customerId, $0.day) }, from: start, to: end)
    }
}
