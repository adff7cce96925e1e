import Foundation

/// One line of an invoice, in the invoice's currency (integer minor units).
public struct InvoiceLine: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        case subscription
        case addOn = "add_on"
        case proration, overage, adjustment
    }

    public var kind: Kind
    public var description: String
    public var quantity: Int64
    /// Per unit (per package of units, for overage); nil for one-off amounts.
    public var unitAmount: Int64?
    public var amount: Int64
    /// The metered feature an overage line bills.
    public var feature: String?

    public init(
        kind: Kind, description: String, quantity: Int64, unitAmount: Int64?, amount: Int64, feature: String? = nil
    ) {
        self.kind = kind
        self.description = description
        self.quantity = quantity
        self.unitAmount = unitAmount
        self.amount = amount
        self.feature = feature
    }
}

/// Builds invoice lines from a subscription, its pending charges and its usage. Pure.
public enum Invoicing {
    /// The recurring charges of one period: the plan (base + seats) and each add-on item.
    public static func subscriptionLines(catalog: Catalog, subscription: Subscription) -> [InvoiceLine] {
        var lines: [InvoiceLine] = []
        let matches = { (price: Price) in
            price.interval == subscription.interval && price.currency == subscription.currency
        }
        if let plan = catalog.plan(subscription.planId), let price = plan.prices.first(where: matches),
            let amount = try? Pricing.amount(for: price, seats: subscription.seats)
        {
            let seats = (try? Pricing.quantity(for: price, seats: subscription.seats)) ?? 1
            let description =
                price.perSeatAmount == nil
                ? "\(plan.name) (\(subscription.interval.rawValue)ly)"
                : "\(plan.name) (\(subscription.interval.rawValue)ly), \(seats) seats"
            lines.append(
                InvoiceLine(
                    kind: .subscription, description: description, quantity: 1, unitAmount: amount.amountMinor,
                    amount: amount.amountMinor))
        }
        for (id, quantity) in subscription.addOns.sorted(by: { $0.key < $1.key }) where quantity > 0 {
            guard let addOn = catalog.addOns.first(where: { $0.id == id }),
                let price = addOn.prices.first(where: matches)
            else { continue }
            lines.append(
                InvoiceLine(
                    kind: .addOn, description: addOn.name, quantity: Int64(quantity), unitAmount: price.amount,
                    amount: price.amount * Int64(quantity)))
        }
        return lines
    }

    /// The overage of one metered feature over a period: the units beyond the quota, billed in
    /// whole packages at the plan's price. Nil when there is none (or no price in `currency`).
    public static func overageLine(quota: Quota, used: Int64, currency: Currency) -> InvoiceLine? {
        guard let price = quota.overage, let limit = quota.limit?.value, used > limit,
            let amount = OverageMath.cost(units: used - limit, price: price, currency: currency)
        else { return nil }
        let packages = (used - limit + price.per - 1) / price.per
        let unit = quota.feature.unit.map { " \($0)s" } ?? ""
        return InvoiceLine(
            kind: .overage, description: "\(quota.feature.name): \(used - limit)\(unit) beyond the \(limit) included",
            quantity: packages, unitAmount: price.unitAmounts[currency], amount: amount, feature: quota.feature.id
        )
    }

    public static func total(_ lines: [InvoiceLine]) -> Int64 {
        lines.reduce(0) { $0 + $1.amount }
    }
}
