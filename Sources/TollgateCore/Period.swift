import Foundation

/// How often a metered quota starts again.
public enum ResetPeriod: String, Sendable, Codable, CaseIterable {
    /// Calendar month in UTC: turns over at 00:00 UTC on the 1st.
    case monthly
    /// Never turns over (the free "starter pack", count limits such as notes).
    case lifetime
    /// The customer's billing cycle, anchored on the day their plan started.
    case billingCycle = "billing_cycle"
}

/// A half-open window [start, end). `end` is nil for a lifetime window.
public struct PeriodWindow: Hashable, Sendable {
    public let start: Date
    public let end: Date?

    public init(start: Date, end: Date?) {
        self.start = start
        self.end = end
    }

    public static let lifetime = PeriodWindow(start: Date(timeIntervalSince1970: 0), end: nil)

    public func contains(_ date: Date) -> Bool {
        date >= start && (end.map { date < $0 } ?? true)
    }
}

/// Period arithmetic, always in UTC on the Gregorian calendar.
public enum PeriodMath {
    public static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// The window of `period` that contains `date`. `anchor` is the billing-cycle anchor
    /// (the moment the plan started); only `billingCycle` uses it.
    public static func window(_ period: ResetPeriod, containing date: Date, anchor: Date) -> PeriodWindow {
        switch period {
        case .lifetime:
            return .lifetime
        case .monthly:
            return monthlyWindow(containing: date)
        case .billingCycle:
            return billingCycleWindow(containing: date, anchor: anchor)
        }
    }

    /// The calendar month (UTC) containing `date`, by integer arithmetic on days since 1970
    /// (H. Hinnant's civil-date algorithms): every consume computes it, and Foundation's
    /// calendar cost more than the rest of the decision. Month boundaries are whole seconds, so
    /// the result is exactly the calendar's (a property test compares them).
    static func monthlyWindow(containing date: Date) -> PeriodWindow {
        let day = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
        let (year, month) = civilMonth(fromDays: day)
        let next = month == 12 ? (year + 1, 1) : (year, month + 1)
        return PeriodWindow(
            start: Date(timeIntervalSince1970: Double(days(fromYear: year, month: month, day: 1) * 86_400)),
            end: Date(timeIntervalSince1970: Double(days(fromYear: next.0, month: next.1, day: 1) * 86_400))
        )
    }

    /// Days from 1970-01-01 to the given proleptic Gregorian date.
    static func days(fromYear year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The year and month of the day `days` after 1970-01-01.
    static func civilMonth(fromDays days: Int) -> (year: Int, month: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month)
    }

    /// Monthly cycles counted from the anchor. A cycle anchored on the 31st ends on the last day of
    /// shorter months (as Stripe does), and each boundary is computed from the anchor, not from the
    /// previous boundary, so the day drifts back after February.
    static func billingCycleWindow(containing date: Date, anchor: Date) -> PeriodWindow {
        func boundary(_ months: Int) -> Date {
            utcCalendar.date(byAdding: .month, value: months, to: anchor)!
        }
        if date < anchor {
            // Before the anchor there is no cycle yet; treat the month before it as one.
            return PeriodWindow(start: boundary(-1), end: anchor)
        }
        let elapsed = utcCalendar.dateComponents([.month], from: anchor, to: date).month ?? 0
        var index = max(0, elapsed - 1)
        while boundary(index + 1) <= date { index += 1 }
        return PeriodWindow(start: boundary(index), end: boundary(index + 1))
    }
}
