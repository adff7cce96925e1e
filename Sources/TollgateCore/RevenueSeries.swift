import Foundation

/// The revenue report of issue 13, computed from recorded MRR movements alone (pure). Each
/// interval's figures follow docs/metrics.md; ratios are nil when their denominator is 0.
public enum RevenueSeries {
    public enum Interval: String, Sendable, CaseIterable {
        case day, week, month
    }

    /// One customer's movement, as the report needs it.
    public struct Movement: Sendable, Hashable {
        public let subject: String
        public let kind: MovementKind
        public let amount: Int64
        public let mrrAfter: Int64
        public let at: Date

        public init(subject: String, kind: MovementKind, amount: Int64, mrrAfter: Int64, at: Date) {
            self.subject = subject
            self.kind = kind
            self.amount = amount
            self.mrrAfter = mrrAfter
            self.at = at
        }
    }

    /// A trial as the report needs it.
    public struct Trial: Sendable, Hashable {
        public let startedAt: Date
        public let endedAt: Date?
        public let converted: Bool?

        public init(startedAt: Date, endedAt: Date?, converted: Bool?) {
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.converted = converted
        }
    }

    public struct Period: Sendable, Hashable {
        public let start: Date
        public let end: Date
        public let mrrStart: Int64
        public let mrrEnd: Int64
        /// Signed totals per kind (churn and contraction are negative).
        public let movements: [MovementKind: Int64]
        public let arr: Int64
        public let payingCustomers: Int
        public let arpa: Int64?
        public let logoChurnRate: Double?
        public let grossMrrChurnRate: Double?
        public let netMrrChurnRate: Double?
        public let quickRatio: Double?
        public let ltv: Int64?
        /// Trials that started in the interval.
        public let trialsStarted: Int
        /// Trials that ended in the interval on a paid subscription.
        public let trialsConverted: Int
        /// Converted ÷ trials that ended in the interval.
        public let trialConversionRate: Double?
    }

    /// The intervals' starts from the one containing `from` up to `to` (exclusive), in UTC:
    /// days, ISO weeks (from Monday), calendar months.
    public static func boundaries(from: Date, to: Date, interval: Interval) -> [Date] {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let unit: Calendar.Component = interval == .day ? .day : interval == .week ? .weekOfYear : .month
        guard var start = calendar.dateInterval(of: unit, for: from)?.start else { return [] }
        var starts: [Date] = []
        while start < to {
            starts.append(start)
            guard let next = calendar.date(byAdding: unit, value: 1, to: start) else { break }
            start = next
        }
        return starts + [start]
    }

    /// The report of `movements` (one currency, any order) for the intervals from `from` to `to`.
    public static func compute(
        _ movements: [Movement], trials: [Trial] = [], from: Date, to: Date, interval: Interval
    ) -> [Period] {
        let sorted = movements.sorted { ($0.at, $0.subject) < ($1.at, $1.subject) }
        let edges = boundaries(from: from, to: to, interval: interval)
        var periods: [Period] = []
        var index = 0
        var customers: [String: Int64] = [:] // MRR per customer, as of the cursor
        var mrr: Int64 = 0
        // Everything before the first interval sets the starting state.
        while index < sorted.count, let first = edges.first, sorted[index].at < first {
            customers[sorted[index].subject] = sorted[index].mrrAfter
            mrr += sorted[index].amount
            index += 1
        }
        for (start, end) in zip(edges, edges.dropFirst()) {
            let (mrrStart, payingAtStart) = (mrr, customers.values.filter { $0 > 0 }.count)
            var totals = Dictionary(uniqueKeysWithValues: MovementKind.allCases.map { ($0, Int64(0)) })
            var churned = 0
            while index < sorted.count, sorted[index].at < end {
                let movement = sorted[index]
                totals[movement.kind, default: 0] += movement.amount
                if movement.kind == .churn { churned += 1 }
                customers[movement.subject] = movement.mrrAfter
                mrr += movement.amount
                index += 1
            }
            let paying = customers.values.filter { $0 > 0 }.count
            let ended = trials.filter { $0.endedAt.map { start <= $0 && $0 < end } == true }
            let converted = ended.filter { $0.converted == true }.count
            let lost = -((totals[.churn] ?? 0) + (totals[.contraction] ?? 0))
            let won = (totals[.new] ?? 0) + (totals[.expansion] ?? 0) + (totals[.reactivation] ?? 0)
            let arpa = paying == 0 ? nil : Pricing.divideRounded(mrr, times: 1, by: Int64(paying))
            let logoChurn = payingAtStart == 0 ? nil : Double(churned) / Double(payingAtStart)
            periods.append(
                Period(
                    start: start, end: end, mrrStart: mrrStart, mrrEnd: mrr, movements: totals, arr: mrr * 12,
                    payingCustomers: paying, arpa: arpa, logoChurnRate: logoChurn,
                    grossMrrChurnRate: mrrStart == 0 ? nil : Double(lost) / Double(mrrStart),
                    netMrrChurnRate: mrrStart == 0
                        ? nil
                        : Double(lost - (totals[.expansion] ?? 0) - (totals[.reactivation] ?? 0)) / Double(mrrStart),
                    quickRatio: lost == 0 ? nil : Double(won) / Double(lost),
                    // ARPA / logo churn rate = ARPA × customers at start / customers churned, in
                    // integers (money never goes through floating point).
                    ltv: churned == 0
                        ? nil
                        : arpa.map { Pricing.divideRounded($0, times: Int64(payingAtStart), by: Int64(churned)) },
                    trialsStarted: trials.filter { start <= $0.startedAt && $0.startedAt < end }.count,
                    trialsConverted: converted,
                    trialConversionRate: ended.isEmpty ? nil : Double(converted) / Double(ended.count)))
        }
        return periods
    }
}
