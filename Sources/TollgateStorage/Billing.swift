import Foundation
import TollgateCore

public enum WebhookOutcome: Sendable, Equatable {
    case applied
    /// The event id was seen before: acknowledged, nothing done.
    case duplicate
    /// Older than what the subscription already reflects: recorded, nothing changed.
    case stale
}

/// A charge waiting for its subject's next invoice: a proration, an overage, an adjustment.
public struct InvoiceItemRecord: Sendable, Hashable {
    public var id: String
    public var subject: String
    public var kind: String
    public var description: String
    public var quantity: Int64
    /// Per unit, for a charge of several (nil: one amount).
    public var unitAmount: Int64?
    /// quantity × unit amount, or the one amount.
    public var amount: Money
    /// Unique per subject: the same charge is never recorded twice.
    public var reference: String
    public var invoiceId: String?
    public var createdAt: Date

    public init(
        id: String, subject: String, kind: String, description: String, quantity: Int64 = 1,
        unitAmount: Int64? = nil, amount: Money, reference: String, invoiceId: String? = nil, createdAt: Date
    ) {
        self.id = id
        self.subject = subject
        self.kind = kind
        self.description = description
        self.quantity = quantity
        self.unitAmount = unitAmount
        self.amount = amount
        self.reference = reference
        self.invoiceId = invoiceId
        self.createdAt = createdAt
    }
}

/// A subscription's stored version (`version_ms`), status and time of its last change.
public struct StoredSubscriptionVersion: Sendable, Hashable {
    public let version: Int64
    public let status: SubscriptionStatus?
    public let updatedAt: Int64

    public init(version: Int64, status: SubscriptionStatus?, updatedAt: Int64) {
        self.version = version
        self.status = status
        self.updatedAt = updatedAt
    }
}

/// A recorded change of a customer's MRR.
public struct RevenueMovementRecord: Sendable, Hashable {
    public let id: String
    public let subject: String
    public let movement: RevenueMovement
    /// The plan the subject is entitled to after the change.
    public let planId: String
    public let at: Date

    public init(id: String, subject: String, movement: RevenueMovement, planId: String, at: Date) {
        self.id = id
        self.subject = subject
        self.movement = movement
        self.planId = planId
        self.at = at
    }
}

public protocol BillingStore: Sendable {
    /// The stored version of a subscription (what orders the provider's news), its status and
    /// when it last changed.
    func subscriptionVersion(id: String) async throws -> StoredSubscriptionVersion?
    /// Stores `subscription` (replacing the stored one) as run by `provider`.
    func putSubscription(_ subscription: Subscription, provider: String, version: Int64, changedAt: Int64)
        async throws
    /// A trial starts when a subscription becomes trialing and ends when it stops being one.
    func recordTrial(_ subscription: Subscription, previousStatus: SubscriptionStatus?, at millis: Int64) async throws
    /// The change of a subject's MRR as movements, once per `cause`.
    func recordRevenueMovements(
        subject: String, from before: [Currency: Int64], to after: [Currency: Int64], plan: String, cause: String,
        at date: Date
    ) async throws
    /// Puts the subject on `plan` (its billing anchor moves to `anchor` when the plan changes) with
    /// `status`, and its add-ons to `addOns` if given; every node is told at commit. When the
    /// plan was set (nil: no such customer).
    func entitle(
        subject: String, plan: String, anchor: Date, status: CustomerStatus, addOns: [String: Int]?, at now: Date
    ) async throws -> Int64?
    /// Queues charges for the subject's next invoice; one whose reference is queued already is left alone.
    func addInvoiceItems(_ items: [InvoiceItemRecord]) async throws
    /// Revenue movements recorded in [from, to), oldest first.
    func revenueMovements(from: Date, to: Date) async throws -> [RevenueMovementRecord]
    /// Subscriptions stored before movements were recorded (migration 22) get their MRR recorded
    /// once, as a `new` movement per customer and currency at the start of its current period:
    /// only their present state is known. Does nothing once any movement exists. How many it wrote.
    func backfillRevenueMovements(mrr: @Sendable ([Subscription]) -> [Currency: Int64]) async throws -> Int
    /// The daily rollup of the movements in `currency` on the UTC days before `before`: per day
    /// and kind, their total and count (written with each movement).
    func revenueDays(currency: Currency, before: Date) async throws -> [RevenueSeries.DayTotal]
    /// The daily rollup of the trials in `currency` before `before`: started, ended, converted.
    func trialDays(currency: Currency, before: Date) async throws -> [RevenueSeries.TrialDay]
    /// Charges not on an invoice yet, oldest first.
    func pendingInvoiceItems(subject: String) async throws -> [InvoiceItemRecord]
    /// Records an event that changes nothing here; false if it was seen before.
    func recordEvent(provider: String, eventId: String, type: String, now: Date) async throws -> Bool
    /// Whether the event was recorded (applied, or acknowledged) already.
    func hasEvent(provider: String, eventId: String) async throws -> Bool
    func subscription(id: String) async throws -> Subscription?
    /// The subject's subscriptions with their provider, oldest period first.
    func subscriptions(subject: String) async throws -> [(Subscription, provider: String)]
    /// Subscriptions with a deadline at or before `now`: a trial's end, the end of a period, or
    /// the end of a past-due grace period (which started `grace` earlier), with their provider.
    func subscriptionsDue(now: Date, grace: TimeInterval) async throws -> [(Subscription, provider: String)]
    /// Trialing subscriptions whose trial ends after `now` and before `before`.
    func trialsEnding(after now: Date, before: Date) async throws -> [Subscription]
    /// Writes events that must be told once: one whose id is there already is left alone.
    func recordEvents(_ events: [OutboxMessage]) async throws
    func linkProviderCustomer(provider: String, providerCustomerId: String, customerId: String) async throws
    func customerId(provider: String, providerCustomerId: String) async throws -> String?
    func providerCustomerId(provider: String, customerId: String) async throws -> String?
    /// Whether the subject ever had a trial (manual or through a provider).
    func hasHadTrial(subject: String) async throws -> Bool
}
