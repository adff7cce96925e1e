import Foundation
import Hummingbird
import TollgateCore
import TollgateStorage

/// Revenue analytics for operators (scope `admin`): the report of issue 13, computed from the
/// recorded MRR movements (docs/metrics.md). One currency per answer: currencies are never summed.
struct AnalyticsRoutes: Sendable {
    let store: any BillingStore
    let clock: any TollgateClock

    /// More intervals than this in one answer is refused (ten years of months, or of weeks).
    static let maximumIntervals = 600

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.admin)
            .get("analytics/revenue", use: revenue)
            .get("analytics/revenue.csv", use: revenueCSV)
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

    /// JSON, or CSV when the caller accepts `text/csv` and not JSON.
    @Sendable func revenue(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let accept = request.headers[.accept] ?? ""
        if accept.contains("text/csv"), !accept.contains("application/json") {
            return try await revenueCSV(request, context: context)
        }
        return try await report(request).response(from: request, context: context)
    }

    /// The same report as CSV, one row per interval; an empty cell where the JSON has null.
    @Sendable func revenueCSV(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let report = try await report(request)
        var csv = CSVWriter(header: [
            "currency", "start", "end", "mrr_start", "mrr_end", "new", "expansion", "contraction", "churn",
            "reactivation", "arr", "paying_customers", "arpa", "logo_churn_rate", "gross_mrr_churn_rate",
            "net_mrr_churn_rate", "quick_ratio", "ltv", "trials_started", "trials_converted", "trial_conversion_rate",
        ])
        let rate = { (value: Double?) -> CSVWriter.Cell in .text(value.map { "\($0)" } ?? "") }
        let amount = { (value: Int64?) -> CSVWriter.Cell in value.map(CSVWriter.Cell.number) ?? .text("") }
        for period in report.intervals {
            let moves = period.movements
            csv.append([
                .text(report.currency), .text(period.start.formatted(.iso8601)), .text(period.end.formatted(.iso8601)),
                .number(period.mrrStart), .number(period.mrrEnd), .number(moves.new), .number(moves.expansion),
                .number(moves.contraction), .number(moves.churn), .number(moves.reactivation), .number(period.arr),
                .number(Int64(period.payingCustomers)), amount(period.arpa), rate(period.logoChurnRate),
                rate(period.grossMrrChurnRate), rate(period.netMrrChurnRate), rate(period.quickRatio),
                amount(period.ltv), .number(Int64(period.trialsStarted)), .number(Int64(period.trialsConverted)),
                rate(period.trialConversionRate),
            ])
        }
        return TextAnswer.csv(csv, filename: "revenue-\(report.currency).csv")
    }

    private func report(_ request: Request) async throws -> RevenueReport {
        let query = request.uri.queryParameters
        guard let code = query.get("currency") else {
            throw HTTPOnlyError(.invalidQuery, "currency is required", field: "currency")
        }
        guard let currency = Currency(code), code.count == 3, code.allSatisfy(\.isLetter) else {
            throw HTTPOnlyError(.invalidQuery, "currency: expected an ISO 4217 code such as EUR", field: "currency")
        }
        let intervalText = query.get("interval") ?? "month"
        guard let interval = RevenueSeries.Interval(rawValue: intervalText) else {
            throw HTTPOnlyError(.invalidQuery, "interval: expected day, week or month", field: "interval")
        }
        let (from, to) = try QueryDate.range(request, now: clock.now())
        let edges = RevenueSeries.boundaries(from: from, to: to, interval: interval)
        guard edges.count - 1 <= Self.maximumIntervals else {
            throw HTTPOnlyError(
                .invalidQuery, "from: at most \(Self.maximumIntervals) intervals in one answer", field: "from")
        }
        let movements = try await store.revenueMovements(from: .distantPast, to: to)
            .filter { $0.movement.currency == currency }
            .map {
                RevenueSeries.Movement(
                    subject: $0.subject, kind: $0.movement.kind, amount: $0.movement.amount,
                    mrrAfter: $0.movement.mrrAfter, at: $0.at)
            }
        let trials = try await store.trials(currency: currency, from: edges.first ?? from, to: to).map {
            RevenueSeries.Trial(startedAt: $0.startedAt, endedAt: $0.endedAt, converted: $0.converted)
        }
        return RevenueReport(
            currency: currency.code, interval: interval.rawValue,
            intervals: RevenueSeries.compute(movements, trials: trials, from: from, to: to, interval: interval)
                .map(IntervalFigures.init))
    }
}
