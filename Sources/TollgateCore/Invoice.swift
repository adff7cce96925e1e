import Foundation

/// One line of an invoice, in the invoice's currency (integer minor units).
public struct InvoiceLine: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        case subscription
        case addOn = "add_on"
        case proration, overage, adjustment
        /// A charge the product added by hand (`POST /v1/customers/{id}/invoice-items`).
        case oneOff = "one_off"
        case creditPack = "credit_pack"
    }

    public var kind: Kind
    public var description: String
    public var quantity: Int64
    /// Per unit (per package of units, for overage); nil for one-off amounts.
    public var unitAmount: Int64?
    /// The taxable amount (net of VAT) once the invoice is finalized; before, the price.
    public var amount: Int64
    /// The metered feature an overage line bills.
    public var feature: String?
    /// The VAT rate applied, set when the invoice is finalized.
    public var taxRate: BasisPoints?
    public var taxAmount: Int64
    /// The period of supply the line pays for, when it has one (Article 226 (7)).
    public var periodStart: Date?
    public var periodEnd: Date?

    public init(
        kind: Kind, description: String, quantity: Int64, unitAmount: Int64?, amount: Int64, feature: String? = nil,
        taxRate: BasisPoints? = nil, taxAmount: Int64 = 0, periodStart: Date? = nil, periodEnd: Date? = nil
    ) {
        self.kind = kind
        self.description = description
        self.quantity = quantity
        self.unitAmount = unitAmount
        self.amount = amount
        self.feature = feature
        self.taxRate = taxRate
        self.taxAmount = taxAmount
        self.periodStart = periodStart
        self.periodEnd = periodEnd
    }

    // Lines stored before VAT have no tax fields.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(Kind.self, forKey: .kind)
        description = try container.decode(String.self, forKey: .description)
        quantity = try container.decode(Int64.self, forKey: .quantity)
        unitAmount = try container.decodeIfPresent(Int64.self, forKey: .unitAmount)
        amount = try container.decode(Int64.self, forKey: .amount)
        feature = try container.decodeIfPresent(String.self, forKey: .feature)
        taxRate = try container.decodeIfPresent(BasisPoints.self, forKey: .taxRate)
        taxAmount = try container.decodeIfPresent(Int64.self, forKey: .taxAmount) ?? 0
        periodStart = try container.decodeIfPresent(Date.self, forKey: .periodStart)
        periodEnd = try container.decodeIfPresent(Date.self, forKey: .periodEnd)
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
                    amount: amount.amountMinor, periodStart: subscription.currentPeriodStart,
                    periodEnd: subscription.currentPeriodEnd))
        }
        for (id, quantity) in subscription.addOns.sorted(by: { $0.key < $1.key }) where quantity > 0 {
            guard let addOn = catalog.addOns.first(where: { $0.id == id }),
                let price = addOn.prices.first(where: matches)
            else { continue }
            lines.append(
                InvoiceLine(
                    kind: .addOn, description: addOn.name, quantity: Int64(quantity), unitAmount: price.amount,
                    amount: price.amount * Int64(quantity), periodStart: subscription.currentPeriodStart,
                    periodEnd: subscription.currentPeriodEnd))
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

    /// The taxable amounts (before finalization: the prices).
    public static func subtotal(_ lines: [InvoiceLine]) -> Int64 {
        lines.reduce(0) { $0 + $1.amount }
    }

    public static func tax(_ lines: [InvoiceLine]) -> Int64 {
        lines.reduce(0) { $0 + $1.taxAmount }
    }

    public static func total(_ lines: [InvoiceLine]) -> Int64 {
        subtotal(lines) + tax(lines)
    }
}
