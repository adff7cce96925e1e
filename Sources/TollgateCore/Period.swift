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
            let parts = utcCalendar.dateComponents([.year, .month], from: date)
            let start = utcCalendar.date(from: DateComponents(year: parts.year, month: parts.month, day: 1))!
            let end = utcCalendar.date(byAdding: .month, value: 1, to: start)!
            return PeriodWindow(start: start, end: end)
        case .billingCycle:
            return billingCycleWindow(containing: date, anchor: anchor)
        }
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
