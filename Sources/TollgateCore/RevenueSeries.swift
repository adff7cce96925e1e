import Foundation

/// The revenue report, computed from recorded MRR movements alone (pure). Each
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

    /// One UTC day's movements of one kind: their total and how many (the daily rollup).
    public struct DayTotal: Sendable, Hashable {
        public let day: Date
        public let kind: MovementKind
        public let amount: Int64
        public let count: Int

        public init(day: Date, kind: MovementKind, amount: Int64, count: Int) {
            self.day = day
            self.kind = kind
            self.amount = amount
            self.count = count
        }
    }

    /// One UTC day's trials: started, ended, and ended converted.
    public struct TrialDay: Sendable, Hashable {
        public let day: Date
        public let started: Int
        public let ended: Int
        public let converted: Int

        public init(day: Date, started: Int, ended: Int, converted: Int) {
            self.day = day
            self.started = started
            self.ended = ended
            self.converted = converted
        }
    }

    /// Movements summed per UTC day and kind, as the rollup stores them.
    public static func dayTotals(_ movements: [Movement]) -> [DayTotal] {
        var totals: [DayKey: (Int64, Int)] = [:]
        for movement in movements {
            let key = DayKey(day: ActivitySeries.day(of: movement.at), kind: movement.kind)
            let (amount, count) = totals[key] ?? (0, 0)
            totals[key] = (amount + movement.amount, count + 1)
        }
        return totals.map { DayTotal(day: $0.key.day, kind: $0.key.kind, amount: $0.value.0, count: $0.value.1) }
    }

    /// Trials counted per UTC day, as the rollup stores them.
    public static func trialDays(_ trials: [Trial]) -> [TrialDay] {
        var days: [Date: (started: Int, ended: Int, converted: Int)] = [:]
        for trial in trials {
            days[ActivitySeries.day(of: trial.startedAt), default: (0, 0, 0)].started += 1
            if let ended = trial.endedAt {
                days[ActivitySeries.day(of: ended), default: (0, 0, 0)].ended += 1
                if trial.converted == true { days[ActivitySeries.day(of: ended), default: (0, 0, 0)].converted += 1 }
            }
        }
        return days.map {
            TrialDay(day: $0.key, started: $0.value.started, ended: $0.value.ended, converted: $0.value.converted)
        }
    }

    private struct DayKey: Hashable {
        let day: Date
        let kind: MovementKind
    }

    /// The report of `movements` (one currency, any order) for the intervals from `from` to `to`.
    public static func compute(
        _ movements: [Movement], trials: [Trial] = [], from: Date, to: Date, interval: Interval
    ) -> [Period] {
        compute(days: dayTotals(movements), trials: trialDays(trials), from: from, to: to, interval: interval)
    }

    /// The report from the daily rollup of one currency (any order). Every interval starts on a
    /// UTC day, so days add up to intervals; a customer starts paying with a new or reactivation
    /// movement and stops with a churn, so the paying customers are their running count.
    public static func compute(
        days: [DayTotal], trials: [TrialDay], from: Date, to: Date, interval: Interval
    ) -> [Period] {
        let sorted = days.sorted { $0.day < $1.day }
        let trialDays = trials.sorted { $0.day < $1.day }
        let edges = boundaries(from: from, to: to, interval: interval)
        var periods: [Period] = []
        var (index, trialIndex) = (0, 0)
        var (mrr, paying): (Int64, Int) = (0, 0)
        func apply(_ day: DayTotal) {
            mrr += day.amount
            switch day.kind {
            case .new, .reactivation: paying += day.count
            case .churn: paying -= day.count
            case .expansion, .contraction: break
            }
        }
        // Everything before the first interval sets the starting state.
        while index < sorted.count, let first = edges.first, sorted[index].day < first {
            apply(sorted[index])
            index += 1
        }
        while trialIndex < trialDays.count, let first = edges.first, trialDays[trialIndex].day < first {
            trialIndex += 1
        }
        for (start, end) in zip(edges, edges.dropFirst()) {
            let (mrrStart, payingAtStart) = (mrr, paying)
            var totals = Dictionary(uniqueKeysWithValues: MovementKind.allCases.map { ($0, Int64(0)) })
            var churned = 0
            while index < sorted.count, sorted[index].day < end {
                let day = sorted[index]
                totals[day.kind, default: 0] += day.amount
                if day.kind == .churn { churned += day.count }
                apply(day)
                index += 1
            }
            var (started, ended, converted) = (0, 0, 0)
            while trialIndex < trialDays.count, trialDays[trialIndex].day < end {
                started += trialDays[trialIndex].started
                ended += trialDays[trialIndex].ended
                converted += trialDays[trialIndex].converted
                trialIndex += 1
            }
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
                    trialsStarted: started, trialsConverted: converted,
                    trialConversionRate: ended == 0 ? nil : Double(converted) / Double(ended)))
        }
        return periods
    }
}
