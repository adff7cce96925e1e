import Foundation

/// The three kinds of feature a plan can grant.
public enum FeatureType: String, Sendable, Codable, CaseIterable {
    /// On or off (`api_access`, `sso`).
    case boolean
    /// A count of things that exist (`notes`, `notebooks`, `collaborators`): consumed on create,
    /// released on delete, never reset.
    case limit
    /// Usage that resets every period (`semantic_search` 100 per month).
    case metered
}

/// A quota bound: a number, or no bound at all.
public enum Limit: Hashable, Sendable {
    case unlimited
    case finite(Int64)

    public var value: Int64? {
        if case .finite(let n) = self { return n }
        return nil
    }

    /// Whether `other` allows at least as much as `self`.
    public func isAtMost(_ other: Limit) -> Bool {
        switch (self, other) {
        case (_, .unlimited): return true
        case (.unlimited, .finite): return false
        case (.finite(let a), .finite(let b)): return a <= b
        }
    }
}

public struct FeatureDefinition: Hashable, Sendable {
    public let id: String
    public let name: String
    public let type: FeatureType
    public let unit: String?
    /// Credits charged per unit consumed, when the feature is paid in credits (see the credits ledger).
    public let creditCost: CreditCost?
    /// Percentages of a metered quota at which the customer is alerted (e-mail and webhook), once
    /// per period each; ascending. `[80, 100]` unless the catalog says otherwise.
    public var alertPercents: [Int] = []
    /// The name in other languages (`name: {en: …, fr: …}` in the catalog); `name` is the English.
    public var names: LocalizedText? = nil

    /// The name in `language`, else the English one.
    public func name(in language: String) -> String { names?.text(in: language) ?? name }

    /// A limit in a unit of time (a retention such as "version history: 30 days") is a setting
    /// the product reads, not a count it reports: it is never drawn as a usage meter.
    public var isSetting: Bool {
        type == .limit && unit.map { Self.durationUnits.contains($0.lowercased()) } == true
    }

    static let durationUnits: Set<String> = [
        "second", "minute", "hour", "day", "week", "month", "year",
        "seconds", "minutes", "hours", "days", "weeks", "months", "years",
    ]
}

public struct CreditCost: Hashable, Sendable {
    public let creditType: String
    public let amount: Int64
}

/// Continuing past a metered quota at a unit price, `unitAmount` minor units per `per` units.
public struct OveragePrice: Hashable, Sendable {
    public let per: Int64
    public let unitAmounts: [Currency: Int64]

    public init(per: Int64, unitAmounts: [Currency: Int64]) {
        self.per = per
        self.unitAmounts = unitAmounts
    }
}

/// What one plan grants for one feature.
public enum FeatureGrant: Hashable, Sendable {
    case boolean(Bool)
    case limit(Limit)
    case metered(Limit, ResetPeriod, overage: OveragePrice?)
}

public enum BillingInterval: String, Sendable, Codable, CaseIterable {
    case month
    case year
}

public struct Price: Hashable, Sendable {
    public let currency: Currency
    public let interval: BillingInterval
    /// Base amount per interval, in minor units.
    public let amount: Int64
    /// Amount per seat per interval, in minor units, for seat-priced plans.
    public let perSeatAmount: Int64?
    public let minimumSeats: Int?
    /// Beyond this many seats, checkout refuses and sends the buyer to sales.
    public let maximumSeats: Int?
    /// An explicit Stripe price id, when the product's Stripe account does not use lookup keys.
    public let stripePriceId: String?

    public var money: Money { Money(amount, currency) }
}

public struct Trial: Hashable, Sendable {
    public let days: Int
    public let requiresPaymentMethod: Bool
    /// Days before the end at which the customer is reminded (`subscription.trial_will_end`).
    public var reminderDays: Int = 3
}

public struct CreditGrantRule: Hashable, Sendable {
    public let creditType: String
    public let amount: Int64
    public let period: ResetPeriod
    public let rollover: Bool
}

public struct Plan: Hashable, Sendable {
    public let id: String
    public let name: String
    /// Position on the upgrade ladder: upgrade suggestions go to the lowest higher order.
    public let order: Int
    public let prices: [Price]
    public let trial: Trial?
    public let features: [String: FeatureGrant]
    public let creditGrants: [CreditGrantRule]
    /// When a workspace is on this plan, its members draw on the workspace's shared quotas.
    public let workspacePools: Bool
    /// How far below zero a credit balance may go on this plan.
    public let creditOverdraft: Int64
    /// Requests per minute an end user on this plan may make (nil: no limit).
    public var rateLimit: RateLimit? = nil
    /// One line under the plan's name on the pricing page.
    public var tagline: LocalizedText? = nil
    /// The plan the pricing page puts forward (at most one per catalog).
    public var highlighted = false

    public var isFree: Bool { prices.isEmpty || prices.allSatisfy { $0.amount == 0 && ($0.perSeatAmount ?? 0) == 0 } }
}

public struct AddOn: Hashable, Sendable {
    public let id: String
    public let name: String
    public let prices: [Price]
    /// Increments to limit features, e.g. `collaborators: 5`.
    public let features: [String: Int64]
    /// Plans on which the add-on can be bought.
    public let plans: [String]
}

public struct CreditPack: Hashable, Sendable {
    public let id: String
    public let name: String
    public let creditType: String
    public let amount: Int64
    public let prices: [Price]
}

/// A product's whole offer, loaded from a catalog file. Immutable; swap the whole value to change it.
public struct Catalog: Hashable, Sendable {
    public let product: String
    public let name: String
    public let defaultPlanId: String
    /// In file order.
    public let features: [FeatureDefinition]
    /// Sorted by `order`.
    public let plans: [Plan]
    public let addOns: [AddOn]
    public let creditTypes: [String]
    public let creditPacks: [CreditPack]
    /// Per credit type, the balance at or below which the customer is told (`credits.low`).
    public var creditLowBalance: [String: Int64] = [:]
    /// Limits on secret keys and anonymous callers.
    public var rateLimits = CatalogRateLimits()
    /// The product's colour (`branding: {color: "#0f766e"}`), `#rrggbb`: the mail's header and button.
    public var brandColor: String? = nil

    public func feature(_ id: String) -> FeatureDefinition? { features.first { $0.id == id } }

    public func plan(_ id: String) -> Plan? { plans.first { $0.id == id } }

    public var defaultPlan: Plan { plan(defaultPlanId)! }

    /// The currencies plans are priced in, in the order they first appear.
    public var planCurrencies: [Currency] {
        var seen: [Currency] = []
        for price in plans.flatMap(\.prices) where !seen.contains(price.currency) { seen.append(price.currency) }
        return seen
    }

    /// The currency `code` names when plans are priced in it; nil otherwise (or without a code).
    public func planCurrency(_ code: String?) -> Currency? {
        code.flatMap(Currency.init).flatMap { planCurrencies.contains($0) ? $0 : nil }
    }
}

/// How a plan may be bought by whoever is looking at it in a currency and an interval: the pricing
/// page's call to action and the portal's plan change both ask here, and the portal's form is
/// refused unless the answer is `selfServe`.
public enum PlanOffer: Hashable, Sendable {
    /// Free: no price to pay.
    case free
    /// Bought by the customer alone at this price.
    case selfServe(Price)
    /// Sold by a person: priced per seat (by the team, often with a minimum), or with no price in
    /// this currency and interval. Never taken from a form.
    case salesOnly(minimumSeats: Int?)
}

extension Plan {
    public func offer(currency: Currency, interval: BillingInterval) -> PlanOffer {
        if isFree { return .free }
        let price = prices.first { $0.currency == currency && $0.interval == interval }
        if let seated = prices.first(where: { $0.perSeatAmount != nil }) {
            return .salesOnly(minimumSeats: price?.minimumSeats ?? seated.minimumSeats)
        }
        guard let price else { return .salesOnly(minimumSeats: nil) }
        return .selfServe(price)
    }
}
