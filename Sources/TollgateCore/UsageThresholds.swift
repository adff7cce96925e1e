import Foundation

/// Quota alerts: which percentages of a limit a change of usage crossed. A threshold is crossed
/// by the change that takes the counter from below it to at or above it; the caller makes each
/// crossing count once per counter and period (a release and a new consume cross it again).
public enum UsageThresholds {
    public static let defaultPercents = [80, 100]

    /// The units at which `percent` of `limit` is reached, rounded up (80 % of 5 is 4 units).
    public static func units(percent: Int, of limit: Int64) -> Int64 {
        let (product, overflow) = limit.multipliedReportingOverflow(by: Int64(percent))
        if overflow { return limit / 100 * Int64(percent) + (limit % 100 * Int64(percent) + 99) / 100 }
        return (product + 99) / 100
    }

    /// The percentages of `limit` crossed when usage went from `before` to `after`, ascending.
    /// None for a zero limit (nothing to warn about: the feature is simply not included) or a
    /// change that did not grow.
    public static func crossed(percents: [Int], limit: Int64, before: Int64, after: Int64) -> [Int] {
        guard limit > 0, after > before else { return [] }
        return percents.filter { percent in
            let threshold = units(percent: percent, of: limit)
            return before < threshold && threshold <= after
        }
    }

    /// The webhook event type of a crossing: the limit itself, or a warning before it.
    public static func eventType(percent: Int) -> String {
        percent >= 100 ? "usage.limit_reached" : "usage.threshold_reached"
    }
}
