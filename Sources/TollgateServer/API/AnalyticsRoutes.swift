import Foundation
import Hummingbird
import TollgateAnalytics
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Revenue analytics for operators (scope `admin`): the revenue report, computed from the
/// recorded MRR movements (docs/metrics.md). One currency per answer: currencies are never summed.
struct AnalyticsRoutes: Sendable {
    let reports: AnalyticsReports
    let clock: any TollgateClock

    /// More intervals than this in one answer is refused (ten years of months, or of weeks).
    static let maximumIntervals = 600

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.admin).analytics("revenue", report: report, csv: Self.csv)
    }

    struct RevenueReport: ResponseEncodable {
        let currency: String
        let interval: String
        let intervals: [IntervalFigures]
    }

    struct IntervalFigures: Encodable {
        struct Movements: Encodable {
            let new: Int64
            let expansion: Int64
            let contraction: Int64
            let churn: Int64
            let reactivation: Int64
        }
        let start: Date
        let end: Date
        let mrrStart: Int64
        let mrrEnd: Int64
        let movements: Movements
        let arr: Int64
        let payingCustomers: Int
        @NullEncoded var arpa: Int64?
        @NullEncoded var logoChurnRate: Double?
        @NullEncoded var grossMrrChurnRate: Double?
        @NullEncoded var netMrrChurnRate: Double?
        @NullEncoded var quickRatio: Double?
        @NullEncoded var ltv: Int64?
        let trialsStarted: Int
        let trialsConverted: Int
        @NullEncoded var trialConversionRate: Double?

        init(_ period: RevenueSeries.Period) {
            start = period.start
            end = period.end
            mrrStart = period.mrrStart
            mrrEnd = period.mrrEnd
            let total = { (kind: MovementKind) in period.movements[kind] ?? 0 }
            movements = Movements(
                new: total(.new), expansion: total(.expansion), contraction: total(.contraction),
                churn: total(.churn), reactivation: total(.reactivation))
            arr = period.arr
            payingCustomers = period.payingCustomers
            arpa = period.arpa
            logoChurnRate = period.logoChurnRate
            grossMrrChurnRate = period.grossMrrChurnRate
            netMrrChurnRate = period.netMrrChurnRate
            quickRatio = period.quickRatio
            ltv = period.ltv
            trialsStarted = period.trialsStarted
            trialsConverted = period.trialsConverted
            trialConversionRate = period.trialConversionRate
        }
    }

    /// The report as CSV, one row per interval; an empty cell where the JSON has null.
    static func csv(_ report: RevenueReport) -> Response {
        var csv = CSVWriter(header: [
            "currency", "start", "end", "mrr_start", "mrr_end", "new", "expansion", "contraction", "churn",
            "reactivation", "arr", "paying_customers", "arpa", "logo_churn_rate", "gross_mrr_churn_rate",
            "net_mrr_churn_rate", "quick_ratio", "ltv", "trials_started", "trials_converted", "trial_conversion_rate",
        ])
        for period in report.intervals {
            let moves = period.movements
            csv.append([
                .text(report.currency), .text(period.start.formatted(.iso8601)), .text(period.end.formatted(.iso8601)),
                .number(period.mrrStart), .number(period.mrrEnd), .number(moves.new), .number(moves.expansion),
                .number(moves.contraction), .number(moves.churn), .number(moves.reactivation), .number(period.arr),
                .number(Int64(period.payingCustomers)), .number(orEmpty: period.arpa),
                .decimal(orEmpty: period.logoChurnRate),
                .decimal(orEmpty: period.grossMrrChurnRate), .decimal(orEmpty: period.netMrrChurnRate),
                .decimal(orEmpty: period.quickRatio),
                .number(orEmpty: period.ltv), .number(Int64(period.trialsStarted)),
                .number(Int64(period.trialsConverted)),
                .decimal(orEmpty: period.trialConversionRate),
            ])
        }
        return TextAnswer.csv(csv, filename: "revenue-\(report.currency).csv")
    }

    @Sendable func report(_ request: Request) async throws -> RevenueReport {
        let currency = try AnalyticsQuery.currency(request)
        let (from, to, interval) = try AnalyticsQuery.intervals(request, now: clock.now())
        return RevenueReport(
            currency: currency.code, interval: interval.rawValue,
            intervals: try await reports.revenue(currency: currency, from: from, to: to, interval: interval)
                .map(IntervalFigures.init))
    }
}

extension RouterGroup where Context == AuthenticatedContext {
    /// `GET /v1/analytics/<name>`: JSON, or CSV when the caller accepts `text/csv` and not JSON;
    /// and `GET /v1/analytics/<name>.csv`: CSV.
    @discardableResult
    func analytics<Report: ResponseEncodable>(
        _ name: String, report: @escaping @Sendable (Request) async throws -> Report,
        csv: @escaping @Sendable (Report) -> Response
    ) -> Self {
        get("analytics/\(name)") { request, context -> Response in
            let accept = request.headers[.accept] ?? ""
            if accept.contains("text/csv"), !accept.contains("application/json") {
                return csv(try await report(request))
            }
            return try await report(request).response(from: request, context: context)
        }
        .get("analytics/\(name).csv") { request, _ in csv(try await report(request)) }
    }
}
