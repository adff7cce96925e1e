import Foundation

/// Activity analytics (docs/metrics.md) from the days each customer was active — any
/// consume or tracked event on that UTC day (pure).
public enum ActivitySeries {
    public struct Day: Sendable, Hashable {
        public let date: Date
        /// Customers active that day.
        public let dau: Int
        /// Customers active in the 7 days ending that day (inclusive).
        public let wau: Int
        /// Customers active in the 30 days ending that day (inclusive).
        public let mau: Int
        /// dau ÷ mau.
        public let stickiness: Double?
    }

    static let secondsPerDay: TimeInterval = 86_400

    /// The UTC day containing `date`.
    public static func day(of date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / secondsPerDay).rounded(.down) * secondsPerDay)
    }

    /// One entry per UTC day from `from`'s day up to `to` (exclusive); `active` must cover the
    /// 29 days before `from` too (MAU looks back that far).
    public static func days(_ active: [(customerId: String, day: Date)], from: Date, to: Date) -> [Day] {
        var byDay: [Date: Set<String>] = [:]
        for entry in active { byDay[day(of: entry.day), default: []].insert(entry.customerId) }
        var result: [Day] = []
        var date = day(of: from)
        while date < to {
            func distinct(over days: Int) -> Int {
                var seen = Set<String>()
                for back in 0..<days {
                    seen.formUnion(byDay[date.addingTimeInterval(-Double(back) * secondsPerDay)] ?? [])
                }
                return seen.count
            }
            let (dau, mau) = (byDay[date]?.count ?? 0, distinct(over: 30))
            result.append(
                Day(
                    date: date, dau: dau, wau: distinct(over: 7), mau: mau,
                    stickiness: mau == 0 ? nil : Double(dau) / Double(mau)))
            date = date.addingTimeInterval(secondsPerDay)
        }
        return result
    }

    public struct Cohort: Sendable, Hashable {
        /// The first instant of the sign-up month.
        public let month: Date
        public let customers: Int
        /// For month k = 0, 1, … after sign-up (up to the report's end): the share of the cohort
        /// active in that calendar month (nil for an empty cohort).
        public let retention: [Double?]
        public let active: [Int]
    }

    /// Cohorts by sign-up month for the months starting in [from, to): each cohort's share still
    /// active in each following month up to the one containing `to`'s last instant.
    public static func cohorts(
        signUps: [(customerId: String, at: Date)], active: [(customerId: String, day: Date)], from: Date, to: Date
    ) -> [Cohort] {
        let months = RevenueSeries.boundaries(from: from, to: to, interval: .month)
        guard months.count > 1 else { return [] }
        let starts = Array(months.dropLast())
        func monthIndex(_ date: Date) -> Int? {
            guard date >= months[0], date < months[months.count - 1] else { return nil }
            return starts.lastIndex { $0 <= date }
        }
        var activeMonths: [String: Set<Int>] = [:]
        for entry in active {
            if let index = monthIndex(entry.day) { activeMonths[entry.customerId, default: []].insert(index) }
        }
        var cohortMembers: [Int: [String]] = [:]
        for signUp in signUps {
            if let index = monthIndex(signUp.at) { cohortMembers[index, default: []].append(signUp.customerId) }
        }
        return starts.indices.map { index in
            let members = cohortMembers[index] ?? []
            let counts = (index..<starts.count).map { month in
                members.count { activeMonths[$0]?.contains(month) == true }
            }
            return Cohort(
                month: starts[index], customers: members.count,
                retention: counts.map { members.isEmpty ? nil : Double($0) / Double(members.count) }, active: counts)
        }
    }
}
