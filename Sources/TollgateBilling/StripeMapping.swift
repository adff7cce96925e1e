import Foundation
import TollgateCore

/// A Stripe subscription object, read from either API shape: legacy `plan` (localstripe and old
/// API versions) or `items.data[].price`; period bounds on the subscription or on its item.
public struct StripeSubscription: Sendable, Equatable {
    /// One subscription item: the plan, or an add-on bought with it.
    public struct Item: Sendable, Equatable {
        public let id: String?
        /// The price's lookup key, or the legacy plan's id.
        public let priceKey: String?
        public let priceId: String?
        public let interval: String?
        public let currency: String?
        public let quantity: Int?
    }

    public let id: String
    public let customer: String
    public let status: String
    public let currentPeriodStart: Date?
    public let currentPeriodEnd: Date?
    public let trialEnd: Date?
    public let cancelAtPeriodEnd: Bool
    public let canceledAt: Date?
    /// In Stripe's order; a legacy subscription without items has one made of its `plan`.
    public let items: [Item]
    public let metadata: [String: String]

    /// Nil when the object is not a subscription we can read.
    public init?(json object: [String: Any]) {
        guard let id = object["id"] as? String, let customer = object["customer"] as? String,
            let status = object["status"] as? String
        else { return nil }
        let rawItems = ((object["items"] as? [String: Any])?["data"] as? [[String: Any]]) ?? []
        let first = rawItems.first
        self.id = id
        self.customer = customer
        self.status = status
        currentPeriodStart = stripeDate(object["current_period_start"]) ?? stripeDate(first?["current_period_start"])
        currentPeriodEnd = stripeDate(object["current_period_end"]) ?? stripeDate(first?["current_period_end"])
        trialEnd = stripeDate(object["trial_end"])
        cancelAtPeriodEnd = (object["cancel_at_period_end"] as? Bool) ?? false
        canceledAt = stripeDate(object["canceled_at"])
        metadata = (object["metadata"] as? [String: String]) ?? [:]
        var items = rawItems.map { item in
            Self.item(
                id: item["id"] as? String, price: item["price"] as? [String: Any], plan: item["plan"] as? [String: Any],
                quantity: item["quantity"] as? Int)
        }
        if items.isEmpty, let plan = object["plan"] as? [String: Any] {
            items = [Self.item(id: nil, price: nil, plan: plan, quantity: object["quantity"] as? Int)]
        }
        self.items = items
    }

    private static func item(id: String?, price: [String: Any]?, plan: [String: Any]?, quantity: Int?) -> Item {
        Item(
            id: id,
            priceKey: (price?["lookup_key"] as? String) ?? (plan?["id"] as? String) ?? (price?["id"] as? String),
            priceId: (price?["id"] as? String) ?? (plan?["id"] as? String),
            interval: ((price?["recurring"] as? [String: Any])?["interval"] as? String)
                ?? (plan?["interval"] as? String),
            currency: (price?["currency"] as? String) ?? (plan?["currency"] as? String),
            quantity: quantity
        )
    }
}

/// Stripe's timestamps: whole seconds since 1970.
func stripeDate(_ value: Any?) -> Date? {
    (value as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) }
}

public enum StripeMapping {
    /// The catalog plan a subscription stands for: its first item whose price is an explicit
    /// `stripePriceId` of the catalog, or has a lookup key (or legacy plan id)
    /// `<plan>_<interval>ly_<currency>` such as `pro_monthly_eur`.
    public static func plan(for subscription: StripeSubscription, in catalog: Catalog) -> (
        plan: Plan, interval: BillingInterval, currency: Currency, item: StripeSubscription.Item
    )? {
        for item in subscription.items {
            if let priceId = item.priceId {
                for plan in catalog.plans {
                    if let price = plan.prices.first(where: { $0.stripePriceId == priceId }) {
                        return (plan, price.interval, price.currency, item)
                    }
                }
            }
            if let (id, interval, currency) = parse(item.priceKey), let plan = catalog.plan(id) {
                return (plan, interval, currency, item)
            }
        }
        return nil
    }

    /// The add-ons bought as the subscription's other items (`collaborators_5_monthly_eur`, or an
    /// add-on's explicit `stripePriceId`), by catalog id: quantity.
    public static func addOns(for subscription: StripeSubscription, in catalog: Catalog) -> [String: Int] {
        var bought: [String: Int] = [:]
        for item in subscription.items {
            let explicit = catalog.addOns.first { addOn in
                addOn.prices.contains { $0.stripePriceId != nil && $0.stripePriceId == item.priceId }
            }
            guard
                let addOn = explicit
                    ?? parse(item.priceKey).flatMap({ key in catalog.addOns.first { $0.id == key.id } })
            else { continue }
            bought[addOn.id, default: 0] += item.quantity ?? 1
        }
        return bought
    }

    /// `<id>_<monthly|yearly>_<currency>` as (id, interval, currency).
    static func parse(_ key: String?) -> (id: String, interval: BillingInterval, currency: Currency)? {
        guard let key = key?.lowercased() else { return nil }
        let parts = key.split(separator: "_").map(String.init)
        guard parts.count >= 3, let currency = Currency(parts[parts.count - 1]) else { return nil }
        let interval: BillingInterval
        switch parts[parts.count - 2] {
        case "monthly", "month": interval = .month
        case "yearly", "annual", "year": interval = .year
        default: return nil
        }
        return (parts.dropLast(2).joined(separator: "_"), interval, currency)
    }

    /// The lookup key Tollgate expects for a catalog id's price: `pro_monthly_eur`.
    public static func lookupKey(_ id: String, interval: BillingInterval, currency: Currency) -> String {
        "\(id)_\(interval == .month ? "monthly" : "yearly")_\(currency.code.lowercased())"
    }

    /// Stripe's statuses in Tollgate's state machine.
    public static func status(_ stripeStatus: String) -> SubscriptionStatus {
        switch stripeStatus {
        case "trialing": return .trialing
        case "active": return .active
        case "past_due", "unpaid": return .pastDue
        case "canceled", "incomplete_expired": return .canceled
        default: return .inactive // incomplete, paused
        }
    }
}
