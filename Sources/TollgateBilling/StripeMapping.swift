import Foundation
import TollgateCore

/// A Stripe subscription object, read from either API shape: legacy `plan` (localstripe and old
/// API versions) or `items.data[].price`; period bounds on the subscription or on its item.
public struct StripeSubscription: Sendable, Equatable {
    public let id: String
    public let customer: String
    public let status: String
    public let currentPeriodStart: Date?
    public let currentPeriodEnd: Date?
    public let trialEnd: Date?
    public let cancelAtPeriodEnd: Bool
    public let canceledAt: Date?
    /// The price's lookup key, or the legacy plan's id.
    public let priceKey: String?
    public let priceId: String?
    public let interval: String?
    public let currency: String?
    public let quantity: Int?
    public let metadata: [String: String]

    /// Nil when the object is not a subscription we can read.
    public init?(json object: [String: Any]) {
        guard let id = object["id"] as? String, let customer = object["customer"] as? String, let status = object["status"] as? String else { return nil }
        let item = ((object["items"] as? [String: Any])?["data"] as? [[String: Any]])?.first
        let price = item?["price"] as? [String: Any]
        let plan = (object["plan"] as? [String: Any]) ?? (item?["plan"] as? [String: Any])
        self.id = id
        self.customer = customer
        self.status = status
        currentPeriodStart = stripeDate(object["current_period_start"]) ?? stripeDate(item?["current_period_start"])
        currentPeriodEnd = stripeDate(object["current_period_end"]) ?? stripeDate(item?["current_period_end"])
        trialEnd = stripeDate(object["trial_end"])
        cancelAtPeriodEnd = (object["cancel_at_period_end"] as? Bool) ?? false
        canceledAt = stripeDate(object["canceled_at"])
        priceKey = (price?["lookup_key"] as? String) ?? (plan?["id"] as? String) ?? (price?["id"] as? String)
        priceId = (price?["id"] as? String) ?? (plan?["id"] as? String)
        interval = ((price?["recurring"] as? [String: Any])?["interval"] as? String) ?? (plan?["interval"] as? String)
        currency = (price?["currency"] as? String) ?? (plan?["currency"] as? String)
        quantity = (item?["quantity"] as? Int) ?? (object["quantity"] as? Int)
        metadata = (object["metadata"] as? [String: String]) ?? [:]
    }
}

/// Stripe's timestamps: whole seconds since 1970.
func stripeDate(_ value: Any?) -> Date? {
    (value as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) }
}

public enum StripeMapping {
    /// The catalog plan a Stripe price stands for: an explicit `stripePriceId` in the catalog, or
    /// a lookup key (or legacy plan id) `<plan>_<interval>ly_<currency>` such as `pro_monthly_eur`.
    public static func plan(for subscription: StripeSubscription, in catalog: Catalog) -> (plan: Plan, interval: BillingInterval, currency: Currency)? {
        if let priceId = subscription.priceId {
            for plan in catalog.plans {
                if let price = plan.prices.first(where: { $0.stripePriceId == priceId }) { return (plan, price.interval, price.currency) }
            }
        }
        guard let key = subscription.priceKey?.lowercased() else { return nil }
        let parts = key.split(separator: "_").map(String.init)
        guard parts.count >= 3, let currency = Currency(parts[parts.count - 1]) else { return nil }
        let interval: BillingInterval
        switch parts[parts.count - 2] {
        case "monthly", "month": interval = .month
        case "yearly", "annual", "year": interval = .year
        default: return nil
        }
        guard let plan = catalog.plan(parts.dropLast(2).joined(separator: "_")) else { return nil }
        return (plan, interval, currency)
    }

    /// Stripe's statuses in Tollgate's state machine.
    public static func status(_ stripeStatus: String) -> SubscriptionStatus {
        switch stripeStatus {
        case "trialing": return .trialing
        case "active": return .active
        case "past_due", "unpaid": return .pastDue
        case "canceled", "incomplete_expired": return .canceled
        default: return .inactive  // incomplete, paused
        }
    }
}
