import Foundation

/// Integer rules for usage beyond a quota: what it costs, and how much of it a spend cap allows.
/// Overage is sold in whole packages of `per` units (50 cents per started 1,000 calls), so a
/// cap is never exceeded by a rounding.
public enum OverageMath {
    /// The cost of `units` beyond the limit, in minor units of `currency`; nil when the price
    /// has no amount in that currency.
    public static func cost(units: Int64, price: OveragePrice, currency: Currency) -> Int64? {
        guard let unitAmount = price.unitAmounts[currency] else { return nil }
        guard units > 0 else { return 0 }
        let packages = (units + price.per - 1) / price.per
        let (product, overflow) = packages.multipliedReportingOverflow(by: unitAmount)
        return overflow ? Int64.max : product
    }

    /// The most units beyond the limit whose cost stays within `budget`: whole packages only.
    /// Nil (no bound) when the price is free; zero when it has no amount in `currency`.
    public static func allowance(budget: Int64, price: OveragePrice, currency: Currency) -> Int64? {
        guard let unitAmount = price.unitAmounts[currency] else { return 0 }
        guard unitAmount > 0 else { return nil }
        guard budget > 0 else { return 0 }
        let (units, overflow) = (budget / unitAmount).multipliedReportingOverflow(by: price.per)
        return overflow ? Int64.max : units
    }
}
