import Foundation
import TollgateCore

/// A subscription as the API answers it and the audit trail records its changes: the same shape
/// whichever door or provider made the change.
public struct SubscriptionSnapshot: Encodable, Sendable {
    public let id: String
    public let provider: String
    public let plan: String
    public let status: String
    public let interval: String
    public let currency: String
    @NullEncoded public var seats: Int?
    public let addOns: [String: Int]
    public let currentPeriodStart: Date
    public let currentPeriodEnd: Date
    @NullEncoded public var trialEnd: Date?
    public let cancelAtPeriodEnd: Bool
    @NullEncoded public var pendingPlan: String?

    public init(_ subscription: Subscription, provider: String) {
        id = subscription.id
        self.provider = provider
        seats = subscription.seats
        addOns = subscription.addOns
        plan = subscription.planId
        status = subscription.status.rawValue
        interval = subscription.interval.rawValue
        currency = subscription.currency.code
        currentPeriodStart = subscription.currentPeriodStart
        currentPeriodEnd = subscription.currentPeriodEnd
        trialEnd = subscription.trialEnd
        cancelAtPeriodEnd = subscription.cancelAtPeriodEnd
        pendingPlan = subscription.pendingPlanId
    }
}
