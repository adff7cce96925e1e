import Foundation

/// Why a check or consume was refused. Stable strings: products switch on them.
public enum DenialReason: String, Sendable, Codable, CaseIterable {
    /// The plan does not include the feature at all.
    case tierLimited = "TIER_LIMITED"
    /// The customer's own quota for this period is used up.
    case userQuotaExhausted = "USER_QUOTA_EXHAUSTED"
    /// A workspace's shared pool for this period is used up.
    case workspaceQuotaExhausted = "WORKSPACE_QUOTA_EXHAUSTED"
    /// The feature is paid in credits and the balance does not cover it.
    case insufficientCredits = "INSUFFICIENT_CREDITS"

    /// The error a refused consume carries (the same word, named once here).
    public var errorCode: ErrorCode {
        switch self {
        case .tierLimited: return .tierLimited
        case .userQuotaExhausted: return .userQuotaExhausted
        case .workspaceQuotaExhausted: return .workspaceQuotaExhausted
        case .insufficientCredits: return .insufficientCredits
        }
    }
}

/// What a plan grants for one feature, resolved for one moment: the counting window and the bound.
public struct Quota: Hashable, Sendable {
    public let feature: FeatureDefinition
    /// False when the plan lacks the feature (or grants it with a zero quota).
    public let included: Bool
    /// Nil for boolean features (nothing is counted).
    public let limit: Limit?
    public let period: ResetPeriod?
    public let window: PeriodWindow?
    /// The price of units beyond the limit, when the plan lets the feature continue past it.
    public var overage: OveragePrice? = nil

    /// Counted features have a window; boolean ones are only on or off.
    public var isCounted: Bool { window != nil }

    public var resetsAt: Date? { window?.end }
}

/// The answer to "may this customer use `amount` of this feature?".
public struct Decision: Hashable, Sendable {
    public let allowed: Bool
    public let limit: Int64?
    public let used: Int64
    public let remaining: Int64?
    public let resetsAt: Date?
    public let reason: DenialReason?
    public let upgradeTier: String?
    /// Units beyond the limit once this amount is counted (billed at the overage price).
    public var overage: Int64 = 0
}

/// Pure entitlement rules: which quota applies, and whether an amount fits in it.
public enum Entitlements {
    /// The quota that `plan` (plus purchased add-ons) grants for `feature` at `now`.
    /// `anchor` is when the customer's billing cycle started.
    public static func quota(
        catalog: Catalog, plan: Plan, feature: FeatureDefinition, addOnQuantities: [String: Int] = [:],
        now: Date, anchor: Date
    ) -> Quota {
        let extra = addOnIncrement(catalog: catalog, plan: plan, feature: feature.id, quantities: addOnQuantities)
        switch (feature.type, plan.features[feature.id]) {
        case (.boolean, .boolean(let on)):
            return Quota(feature: feature, included: on, limit: nil, period: nil, window: nil)
        case (.boolean, _):
            return Quota(feature: feature, included: false, limit: nil, period: nil, window: nil)
        case (.limit, .limit(let limit)):
            let bound = adding(extra, to: limit)
            return Quota(
                feature: feature, included: bound != .finite(0), limit: bound, period: .lifetime, window: .lifetime)
        case (.limit, _):
            let bound = Limit.finite(extra)
            return Quota(feature: feature, included: extra > 0, limit: bound, period: .lifetime, window: .lifetime)
        case (.metered, .metered(let limit, let period, let overage)):
            let bound = adding(extra, to: limit)
            let window = PeriodMath.window(period, containing: now, anchor: anchor)
            return Quota(
                feature: feature, included: bound != .finite(0) || overage != nil, limit: bound, period: period,
                window: window, overage: overage)
        case (.metered, _):
            let window = PeriodMath.window(.monthly, containing: now, anchor: anchor)
            return Quota(feature: feature, included: false, limit: .finite(0), period: .monthly, window: window)
        }
    }

    /// Whether `amount` more fits, given `used` so far in the quota's window. Past the limit, a
    /// feature with an overage price continues for up to `overageAllowance` units beyond it
    /// (nil: without bound; a spend cap makes it finite).
    public static func decide(
        catalog: Catalog, plan: Plan, quota: Quota, used: Int64, amount: Int64,
        exhaustedReason: DenialReason = .userQuotaExhausted, overageAllowance: Int64? = nil
    ) -> Decision {
        let limitValue = quota.limit?.value
        let remaining = limitValue.map { max(0, $0 - used) }
        func deny(_ reason: DenialReason) -> Decision {
            Decision(
                allowed: false, limit: limitValue, used: used, remaining: remaining, resetsAt: quota.resetsAt,
                reason: reason,
                upgradeTier: upgradeTier(catalog: catalog, from: plan, feature: quota.feature, amount: amount)
            )
        }
        guard quota.included else { return deny(.tierLimited) }
        if let limitValue, used + amount > limitValue {
            let beyond = used + amount - limitValue
            guard quota.overage != nil, overageAllowance.map({ beyond <= $0 }) ?? true else {
                return deny(exhaustedReason)
            }
            var decision = Decision(
                allowed: true, limit: limitValue, used: used, remaining: remaining, resetsAt: quota.resetsAt,
                reason: nil, upgradeTier: nil)
            decision.overage = beyond
            return decision
        }
        return Decision(
            allowed: true, limit: limitValue, used: used, remaining: remaining, resetsAt: quota.resetsAt,
            reason: nil, upgradeTier: nil
        )
    }

    /// The cheapest plan above `plan` (by `order`) whose own quota for the feature would admit
    /// `amount` and is larger than the current one. Nil when no plan would help.
    public static func upgradeTier(catalog: Catalog, from plan: Plan, feature: FeatureDefinition, amount: Int64)
        -> String?
    {
        let now = Date(timeIntervalSince1970: 0)
        let current = quota(catalog: catalog, plan: plan, feature: feature, now: now, anchor: now)
        for candidate in catalog.plans where candidate.order > plan.order {
            let offered = quota(catalog: catalog, plan: candidate, feature: feature, now: now, anchor: now)
            guard offered.included else { continue }
            switch (offered.limit, current.included ? current.limit : .finite(0)) {
            case (nil, _):
                return candidate.id
            case (.some(let bound), let currentBound):
                let admits = bound.value.map { $0 >= amount } ?? true
                let larger = currentBound.map { !bound.isAtMost($0) } ?? true
                if admits && larger { return candidate.id }
            }
        }
        return nil
    }

    private static func addOnIncrement(catalog: Catalog, plan: Plan, feature: String, quantities: [String: Int])
        -> Int64
    {
        catalog.addOns.reduce(0) { sum, addOn in
            guard let quantity = quantities[addOn.id], quantity > 0,
                addOn.plans.isEmpty || addOn.plans.contains(plan.id),
                let increment = addOn.features[feature]
            else { return sum }
            return sum + increment * Int64(quantity)
        }
    }

    private static func adding(_ extra: Int64, to limit: Limit) -> Limit {
        switch limit {
        case .unlimited: return .unlimited
        case .finite(let n): return .finite(n + extra)
        }
    }
}
