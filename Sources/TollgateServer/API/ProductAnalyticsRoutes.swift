import Foundation
import Hummingbird
import TollgateAnalytics
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Customer, usage and activity analytics for operators (scope `admin`,
/// docs/metrics.md): from the daily rollups and the customers' recorded states.
struct ProductAnalyticsRoutes: Sendable {
    let reports: AnalyticsReports
    let catalog: Catalog
    let clock: any TollgateClock

    /// Longest window of the usage, activity and adoption answers.
    static let maximumDays = 400

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.admin)
            .analytics("customers", report: customers, csv: customersCSV)
            .analytics("usage", report: usage, csv: Self.usageCSV)
            .analytics("activity", report: activity, csv: Self.activityCSV)
            .analytics("adoption", report: adoption, csv: Self.adoptionCSV)
            .analytics("retention", report: retention, csv: Self.retentionCSV)
    }

    /// Plans in ladder order, then any plan no longer in the catalog, by id.
    private func planOrder(_ ids: some Sequence<String>) -> [String] {
        let ladder = ladderRanks
        return Set(ids).union(catalog.plans.map(\.id)).sorted {
            (ladder[$0] ?? Int.max, $0) < (ladder[$1] ?? Int.max, $1)
        }
    }

    private var ladderRanks: [String: Int] { Dictionary(catalog.plans.map { ($0.id, $0.order) }) { first, _ in first } }

    // MARK: Customers

    struct CustomersReport: ResponseEncodable {
        struct Interval: Encodable {
            let start: Date
            let end: Date
            let customers: Int
            let byPlan: [String: Int]
            let byStatus: [String: Int]
            let signUps: Int
            let freeToPaid: Int
            @NullEncoded var freeToPaidRate: Double?
        }
        let interval: String
        let plans: [String]
        let intervals: [Interval]
    }

    @Sendable func customers(_ request: Request) async throws -> CustomersReport {
        let (from, to, interval) = try AnalyticsQuery.intervals(request, now: clock.now())
        let periods = try await reports.customers(from: from, to: to, interval: interval)
        let plans = planOrder(periods.flatMap(\.byPlan.keys))
        return CustomersReport(
            interval: interval.rawValue, plans: plans,
            intervals: periods.map { period in
                CustomersReport.Interval(
                    start: period.start, end: period.end, customers: period.customers,
                    byPlan: Dictionary(uniqueKeysWithValues: plans.map { ($0, period.byPlan[$0] ?? 0) }),
                    byStatus: Dictionary(
                        uniqueKeysWithValues: CustomerStatus.allCases.map { ($0.rawValue, period.byStatus[$0] ?? 0) }),
                    signUps: period.signUps, freeToPaid: period.freeToPaid, freeToPaidRate: period.freeToPaidRate)
            })
    }

    @Sendable func customersCSV(_ report: CustomersReport) -> Response {
        var csv = CSVWriter(
            header: ["start", "end", "customers", "sign_ups", "free_to_paid", "free_to_paid_rate"]
                + report.plans.map { "plan_\($0)" } + CustomerStatus.allCases.map { "status_\($0.rawValue)" })
        for period in report.intervals {
            csv.append(
                [
                    .text(period.start.formatted(.iso8601)), .text(period.end.formatted(.iso8601)),
                    .number(Int64(period.customers)), .number(Int64(period.signUps)),
                    .number(Int64(period.freeToPaid)), .decimal(orEmpty: period.freeToPaidRate),
                ]
                    + report.plans.map { .number(Int64(period.byPlan[$0] ?? 0)) }
                    + CustomerStatus.allCases.map { .number(Int64(period.byStatus[$0.rawValue] ?? 0)) })
        }
        return TextAnswer.csv(csv, filename: "customers.csv")
    }

    // MARK: Usage

    struct UsageAnswer: ResponseEncodable {
        struct Row: Encodable {
            let feature: String
            let plan: String
            let activeCustomers: Int
            let totalUsage: Int64
            @NullEncoded var medianPerCustomer: Int64?
            @NullEncoded var p90PerCustomer: Int64?
            let customersAtLimit: Int
            @NullEncoded var limitHitRate: Double?
            let refusals: [String: Int64]
            let upgradePrompts: Int
            let upgradedWithin14Days: Int
            @NullEncoded var limitToUpgradeRate: Double?
        }
        let from: Date
        let to: Date
        let features: [Row]
    }

    @Sendable func usage(_ request: Request) async throws -> UsageAnswer {
        let (from, to) = try AnalyticsQuery.window(request, now: clock.now())
        let rows = try await reports.usage(from: from, to: to, ladder: ladderRanks)
        return UsageAnswer(
            from: from, to: to,
            features: rows.map { row in
                UsageAnswer.Row(
                    feature: row.feature, plan: row.planId, activeCustomers: row.activeCustomers,
                    totalUsage: row.totalUsage, medianPerCustomer: row.medianPerCustomer,
                    p90PerCustomer: row.p90PerCustomer, customersAtLimit: row.customersAtLimit,
                    limitHitRate: row.limitHitRate,
                    refusals: Dictionary(
                        uniqueKeysWithValues: DenialReason.allCases.map {
                            ($0.rawValue, row.refusals[$0.rawValue] ?? 0)
                        }),
                    upgradePrompts: row.upgradePrompts, upgradedWithin14Days: row.upgradedAfterPrompt,
                    limitToUpgradeRate: row.limitToUpgradeRate)
            })
    }

    static func usageCSV(_ answer: UsageAnswer) -> Response {
        var csv = CSVWriter(
            header: [
                "from", "to", "feature", "plan", "active_customers", "total_usage", "median_per_customer",
                "p90_per_customer", "customers_at_limit", "limit_hit_rate",
            ] + DenialReason.allCases.map { "refusals_\($0.rawValue.lowercased())" }
                + ["upgrade_prompts", "upgraded_within_14_days", "limit_to_upgrade_rate"])
        let (from, to) = (answer.from.formatted(.iso8601), answer.to.formatted(.iso8601))
        for row in answer.features {
            csv.append(
                [
                    .text(from), .text(to), .text(row.feature), .text(row.plan), .number(Int64(row.activeCustomers)),
                    .number(row.totalUsage), .number(orEmpty: row.medianPerCustomer),
                    .number(orEmpty: row.p90PerCustomer), .number(Int64(row.customersAtLimit)),
                    .decimal(orEmpty: row.limitHitRate),
                ] + DenialReason.allCases.map { .number(row.refusals[$0.rawValue] ?? 0) }
                    + [
                        .number(Int64(row.upgradePrompts)), .number(Int64(row.upgradedWithin14Days)),
                        .decimal(orEmpty: row.limitToUpgradeRate),
                    ])
        }
        return TextAnswer.csv(csv, filename: "usage.csv")
    }

    // MARK: Activity

    struct ActivityAnswer: ResponseEncodable {
        struct Day: Encodable {
            let date: String
            let dau: Int
            let wau: Int
            let mau: Int
            @NullEncoded var stickiness: Double?
        }
        let from: Date
        let to: Date
        let days: [Day]
    }

    @Sendable func activity(_ request: Request) async throws -> ActivityAnswer {
        let (from, to) = try AnalyticsQuery.window(request, now: clock.now())
        let days = try await reports.activity(from: from, to: to)
        return ActivityAnswer(
            from: from, to: to,
            days: days.map {
                ActivityAnswer.Day(
                    date: AnalyticsQuery.dayText($0.date), dau: $0.dau, wau: $0.wau, mau: $0.mau,
                    stickiness: $0.stickiness)
            })
    }

    static func activityCSV(_ answer: ActivityAnswer) -> Response {
        var csv = CSVWriter(header: ["date", "dau", "wau", "mau", "stickiness"])
        for day in answer.days {
            csv.append([
                .text(day.date), .number(Int64(day.dau)), .number(Int64(day.wau)), .number(Int64(day.mau)),
                .decimal(orEmpty: day.stickiness),
            ])
        }
        return TextAnswer.csv(csv, filename: "activity.csv")
    }

    // MARK: Adoption

    struct AdoptionAnswer: ResponseEncodable {
        struct Entry: Encodable {
            let name: String
            let source: String
            let customers: Int
            @NullEncoded var share: Double?
        }
        let from: Date
        let to: Date
        let activeCustomers: Int
        let adoption: [Entry]
    }

    @Sendable func adoption(_ request: Request) async throws -> AdoptionAnswer {
        let (from, to) = try AnalyticsQuery.window(request, now: clock.now())
        let (active, entries) = try await reports.adoption(from: from, to: to, catalog: catalog)
        return AdoptionAnswer(
            from: from, to: to, activeCustomers: active,
            adoption: entries.map {
                AdoptionAnswer.Entry(
                    name: $0.name, source: $0.source.rawValue, customers: $0.customers,
                    share: active == 0 ? nil : Double($0.customers) / Double(active))
            })
    }

    static func adoptionCSV(_ answer: AdoptionAnswer) -> Response {
        var csv = CSVWriter(header: ["from", "to", "source", "name", "customers", "active_customers", "share"])
        for entry in answer.adoption {
            csv.append([
                .text(answer.from.formatted(.iso8601)), .text(answer.to.formatted(.iso8601)), .text(entry.source),
                .text(entry.name), .number(Int64(entry.customers)), .number(Int64(answer.activeCustomers)),
                .decimal(orEmpty: entry.share),
            ])
        }
        return TextAnswer.csv(csv, filename: "adoption.csv")
    }

    // MARK: Retention

    struct RetentionAnswer: ResponseEncodable {
        struct Cohort: Encodable {
            let month: String
            let customers: Int
            let active: [Int]
            let retention: [Double?]
        }
        let from: Date
        let to: Date
        let cohorts: [Cohort]
    }

    @Sendable func retention(_ request: Request) async throws -> RetentionAnswer {
        let (from, to) = try QueryDate.range(request, now: clock.now())
        let months = RevenueSeries.boundaries(from: from, to: to, interval: .month)
        guard months.count - 1 <= 120 else {
            throw HTTPOnlyError(.invalidQuery, "from: at most 120 months in one answer", field: "from")
        }
        let (start, end) = (months.first ?? from, months.last ?? to)
        let cohorts = try await reports.retention(from: start, to: end)
        return RetentionAnswer(
            from: start, to: end,
            cohorts: cohorts.map {
                RetentionAnswer.Cohort(
                    month: String(AnalyticsQuery.dayText($0.month).prefix(7)), customers: $0.customers,
                    active: $0.active, retention: $0.retention)
            })
    }

    static func retentionCSV(_ answer: RetentionAnswer) -> Response {
        let width = answer.cohorts.map(\.retention.count).max() ?? 0
        var csv = CSVWriter(header: ["cohort", "customers"] + (0..<width).map { "month_\($0)" })
        for cohort in answer.cohorts {
            csv.append(
                [.text(cohort.month), .number(Int64(cohort.customers))]
                    + (0..<width).map { index in
                        index < cohort.retention.count
                            ? .decimal(orEmpty: cohort.retention[index]) : .empty
                    })
        }
        return TextAnswer.csv(csv, filename: "retention.csv")
    }
}

/// The query of the analytics answers.
enum AnalyticsQuery {
    /// `from`, `to` (the last twelve months by default) and `interval` (month by default), at
    /// most `AnalyticsRoutes.maximumIntervals` of them.
    static func intervals(_ request: Request, now: Date) throws -> (Date, Date, RevenueSeries.Interval) {
        let text = request.uri.queryParameters.get("interval") ?? "month"
        guard let interval = RevenueSeries.Interval(rawValue: text) else {
            throw HTTPOnlyError(.invalidQuery, "interval: expected day, week or month", field: "interval")
        }
        let (from, to) = try QueryDate.range(request, now: now)
        guard
            RevenueSeries.boundaries(from: from, to: to, interval: interval).count - 1
                <= AnalyticsRoutes.maximumIntervals
        else {
            throw HTTPOnlyError(
                .invalidQuery, "from: at most \(AnalyticsRoutes.maximumIntervals) intervals in one answer",
                field: "from")
        }
        return (from, to, interval)
    }

    /// `from` and `to` of a window of whole UTC days: this month by default, at most
    /// `ProductAnalyticsRoutes.maximumDays`.
    static func window(_ request: Request, now: Date) throws -> (Date, Date) {
        let month = RevenueSeries.boundaries(from: now, to: now.addingTimeInterval(1), interval: .month)
        let query = request.uri.queryParameters
        let from = ActivitySeries.day(of: try QueryDate.parse(query.get("from"), field: "from") ?? month[0])
        let to = try QueryDate.parse(query.get("to"), field: "to") ?? month[1]
        guard from < to else { throw HTTPOnlyError(.invalidQuery, "from must be before to", field: "from") }
        guard to.timeIntervalSince(from) <= Double(ProductAnalyticsRoutes.maximumDays) * 86_400 else {
            throw HTTPOnlyError(
                .invalidQuery, "from: at most \(ProductAnalyticsRoutes.maximumDays) days in one answer", field: "from")
        }
        return (from, to)
    }

    /// The report's `currency` (required): one series per currency, never summed together.
    static func currency(_ request: Request) throws -> Currency {
        guard let code = request.uri.queryParameters.get("currency") else {
            throw HTTPOnlyError(.invalidQuery, "currency is required", field: "currency")
        }
        guard let currency = Currency(code), code.count == 3, code.allSatisfy(\.isLetter) else {
            throw HTTPOnlyError(.invalidQuery, "currency: expected an ISO 4217 code such as EUR", field: "currency")
        }
        return currency
    }

    /// `2026-05-01`.
    static func dayText(_ date: Date) -> String { DayStamp.string(of: date) }
}
