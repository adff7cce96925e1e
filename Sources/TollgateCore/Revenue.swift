import Foundation

/// Monthly recurring revenue and its movements. Pure; the conventions are
/// ChartMogul's and Baremetrics', written down in docs/metrics.md.
public enum Revenue {
    /// One subscription's MRR in minor units of its currency: the recurring charges of one period
    /// exactly as they are invoiced (plan base, seats, add-ons; no tax, no overage, no one-off
    /// charges), normalised to a month — a yearly period's total divided by 12, rounded half up to
    /// the minor unit. Counted while the subscription is active or past due (a past-due customer
    /// has not churned yet; a cancellation at period end counts until it happens); a trial, a
    /// canceled or an inactive subscription, or a free plan, counts 0.
    public static func mrr(of subscription: Subscription, catalog: Catalog) -> Int64 {
        guard [.active, .pastDue].contains(subscription.status) else { return 0 }
        let period = Invoicing.total(Invoicing.subscriptionLines(catalog: catalog, subscription: subscription))
        switch subscription.interval {
        case .month: return period
        case .year: return monthlyShare(ofYearly: period)
        }
    }

    /// `yearly / 12`, rounded half up (away from zero for the negative amounts no price has).
    public static func monthlyShare(ofYearly yearly: Int64) -> Int64 {
        Pricing.divideRounded(yearly, times: 1, by: 12)
    }

    /// A customer's MRR per currency, over all its subscriptions; currencies are never summed.
    public static func mrr(of subscriptions: [Subscription], catalog: Catalog) -> [Currency: Int64] {
        var total: [Currency: Int64] = [:]
        for subscription in subscriptions {
            let amount = mrr(of: subscription, catalog: catalog)
            if amount != 0 { total[subscription.currency, default: 0] += amount }
        }
        return total
    }
}

/// What kind of change of a customer's MRR (in one currency) a movement is.
public enum MovementKind: String, Sendable, Codable, CaseIterable {
    /// From 0 to more, the first time this customer pays in this currency.
    case new
    /// From more than 0 to more.
    case expansion
    /// From more than 0 to less, but not 0.
    case contraction
    /// From more than 0 to 0.
    case churn
    /// From 0 to more, after having paid before (and churned).
    case reactivation
}

/// One change of one customer's MRR in one currency: `amount` is the signed difference (churn
/// and contraction negative), so the movements of a period add up to the change of MRR.
public struct RevenueMovement: Sendable, Hashable, Codable {
    public let kind: MovementKind
    public let currency: Currency
    public let amount: Int64
    public let mrrBefore: Int64
    public let mrrAfter: Int64

    public init(kind: MovementKind, currency: Currency, amount: Int64, mrrBefore: Int64, mrrAfter: Int64) {
        self.kind = kind
        self.currency = currency
        self.amount = amount
        self.mrrBefore = mrrBefore
        self.mrrAfter = mrrAfter
    }

    /// The movements from `before` to `after` (a customer's MRR per currency), one per currency
    /// that changed, in currency order. `hasPaidBefore` says whether the customer ever had MRR in
    /// a currency (what separates a reactivation from a new customer).
    public static func between(
        _ before: [Currency: Int64], _ after: [Currency: Int64], hasPaidBefore: (Currency) -> Bool
    ) -> [RevenueMovement] {
        Set(before.keys).union(after.keys).sorted { $0.code < $1.code }.compactMap { currency in
            let (was, now) = (before[currency] ?? 0, after[currency] ?? 0)
            guard was != now else { return nil }
            let kind: MovementKind
            if was == 0 {
                kind = hasPaidBefore(currency) ? .reactivation : .new
            } else if now == 0 {
                kind = .churn
            } else {
                kind = now > was ? .expansion : .contraction
            }
            return RevenueMovement(kind: kind, currency: currency, amount: now - was, mrrBefore: was, mrrAfter: now)
        }
    }
}
