import Foundation
import TollgateCore

/// The answer to a check, consume or release: stored as JSON for idempotent replay, so its
/// shape is part of the API.
public struct UsageOutcome: Codable, Sendable, Hashable {
    public var allowed: Bool
    public var customer: String
    public var feature: String
    public var amount: Int64
    /// Nil when unlimited, or for a boolean feature.
    @NullEncoded public var limit: Int64?
    /// Used in the current period, after this call.
    public var used: Int64
    @NullEncoded public var remaining: Int64?
    @NullEncoded public var resetsAt: Date?
    @NullEncoded public var reason: DenialReason?
    @NullEncoded public var upgradeTier: String?
    /// Units beyond the limit in this period, billed at the overage price; null when the
    /// feature has no overage price.
    @NullEncoded public var overage: Int64?

    public init(
        allowed: Bool, customer: String, feature: String, amount: Int64, limit: Int64?, used: Int64,
        remaining: Int64?, resetsAt: Date?, reason: DenialReason?, upgradeTier: String?, overage: Int64? = nil
    ) {
        self.overage = overage
        self.allowed = allowed
        self.customer = customer
        self.feature = feature
        self.amount = amount
        self.limit = limit
        self.used = used
        self.remaining = remaining
        self.resetsAt = resetsAt
        self.reason = reason
        self.upgradeTier = upgradeTier
    }
}

/// One feature as a customer sees it now.
public struct FeatureEntitlement: Sendable, Hashable {
    public let feature: FeatureDefinition
    public let quota: Quota
    public let used: Int64

    public var remaining: Int64? { quota.limit?.value.map { max(0, $0 - used) } }
}

public struct CustomerEntitlements: Sendable {
    public let customerId: String
    public let plan: Plan
    public let features: [FeatureEntitlement]
}
