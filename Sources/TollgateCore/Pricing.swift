import Foundation

/// Integer money arithmetic for subscriptions: seat prices and proration, never floating point.
public enum Pricing {
    public enum PricingError: Error, Sendable, Equatable {
        /// More seats than the price allows: the buyer must talk to sales.
        case contactSales(maximumSeats: Int)
    }

    /// What one interval costs: the base, plus the per-seat amount times the seats billed
    /// (at least the price's minimum).
    public static func amount(for price: Price, seats: Int?) throws(PricingError) -> Money {
        guard let perSeat = price.perSeatAmount else { return price.money }
        return Money(price.amount + perSeat * Int64(try quantity(for: price, seats: seats)), price.currency)
    }

    /// How many of the price a subscription is billed for: on a per-seat price, the seats asked
    /// for, at least its minimum (beyond its maximum: contact sales); otherwise one.
    public static func quantity(for price: Price, seats: Int?) throws(PricingError) -> Int {
        guard price.perSeatAmount != nil else { return 1 }
        let billed = max(price.minimumSeats ?? 1, seats ?? 0)
        if let maximum = price.maximumSeats, billed > maximum { throw .contactSales(maximumSeats: maximum) }
        return billed
    }

    /// What changing from `old` to `new` at `at` costs for the rest of [start, end): the new
    /// amount for the time left minus the unused part of the old one. Negative is a credit.
    /// Rounded half away from zero to the minor unit, with 128-bit intermediates.
    public static func proration(old: Int64, new: Int64, periodStart: Date, periodEnd: Date, at: Date) -> Int64 {
        let total = Int64(periodEnd.timeIntervalSince(periodStart).rounded())
        let left = Int64(
            min(max(periodEnd.timeIntervalSince(at), 0), periodEnd.timeIntervalSince(periodStart)).rounded())
        guard total > 0, left > 0 else { return 0 }
        return divideRounded(new - old, times: left, by: total)
    }

    /// (value × numerator) / denominator, rounded half away from zero, without overflow.
    static func divideRounded(_ value: Int64, times numerator: Int64, by denominator: Int64) -> Int64 {
        let negative = (value < 0) != (numerator < 0)
        let product = value.magnitude.multipliedFullWidth(by: numerator.magnitude)
        let (quotient, remainder) = denominator.magnitude.dividingFullWidth(product)
        let rounded = remainder * 2 >= denominator.magnitude ? quotient + 1 : quotient
        return negative ? -Int64(rounded) : Int64(rounded)
    }
}
