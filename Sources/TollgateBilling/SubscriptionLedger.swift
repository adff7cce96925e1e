import Foundation
import TollgateCore
import TollgateStorage

/// What applying a subscription change needs of the catalog: the plan a subject's subscriptions
/// entitle it to, and their MRR per currency (`Revenue.mrr`).
public struct SubscriptionRules: Sendable {
    public let entitledPlan: @Sendable ([Subscription]) -> String
    public let mrr: @Sendable ([Subscription]) -> [Currency: Int64]

    public init(
        entitledPlan: @escaping @Sendable ([Subscription]) -> String,
        mrr: @escaping @Sendable ([Subscription]) -> [Currency: Int64]
    ) {
        self.entitledPlan = entitledPlan
        self.mrr = mrr
    }
}

/// News of a subscription, from a provider's webhook or the manual provider's own moves.
struct SubscriptionNews: Sendable {
    let provider: PaymentProviderKind
    let eventId: String
    let type: String
    /// Orders the news against what is stored; nil (time passing here, not news from the
    /// provider) keeps the stored version, so a provider's event delayed past it still applies.
    let version: Date?
    /// Nil: an event that changes no subscription, recorded so it is not applied twice.
    let subscription: Subscription?
    let now: Date
    /// The subject's add-ons become those of its live subscriptions (Stripe's items).
    var syncAddOns = false
    /// Charges for the subject's next invoice (the manual provider's periods and prorations).
    var charges: [InvoiceItemRecord] = []
    /// The provider says it was paid: `invoice.paid` is told (Tollgate's own invoices tell theirs
    /// as they are marked paid).
    var paymentReceived = false
}

/// Applies a subscription's news in one transaction: the event recorded once (a replay, or news
/// older than what is stored, changes nothing else), the subscription stored, the subject put on
/// the best plan its subscriptions give, the change of its MRR and its trial recorded, its
/// add-ons following its live subscriptions, the charges queued, and what happened told.
enum SubscriptionLedger {
    static func apply(_ news: SubscriptionNews, rules: SubscriptionRules, in tx: any Storage) async throws
        -> WebhookOutcome
    {
        let provider = news.provider.rawValue
        guard try await tx.recordEvent(provider: provider, eventId: news.eventId, type: news.type, now: news.now)
        else { return .duplicate }
        guard let subscription = news.subscription else { return .applied }
        let stored = try await tx.subscriptionVersion(id: subscription.id)
        let version = news.version.map(Millis.from) ?? stored?.version ?? 0
        if let stored, stored.version > version { return .stale }
        // Each change gets a later time than the one before, even within a millisecond: events
        // carry it as their version, so a receiver can order them.
        let changedAt = max(Millis.from(news.now), (stored?.updatedAt ?? 0) + 1)
        let subject = subscription.subject
        let previousPlan = try await tx.customer(id: subject)?.planId
        let before = try await tx.subscriptions(subject: subject).map(\.0)
        try await tx.putSubscription(subscription, provider: provider, version: version, changedAt: changedAt)
        let all = try await tx.subscriptions(subject: subject).map(\.0)
        let plan = rules.entitledPlan(all)
        try await tx.recordTrial(subscription, previousStatus: stored?.status, at: changedAt)
        let cause = "\(provider)\u{1F}\(news.eventId)"
        try await tx.recordRevenueMovements(
            subject: subject, from: rules.mrr(before), to: rules.mrr(all), plan: plan, cause: cause,
            at: Millis.date(changedAt))
        let addOns =
            news.syncAddOns
            ? all.filter(\.isLive).reduce(into: [String: Int]()) { $0.merge($1.addOns, uniquingKeysWith: +) } : nil
        let customerChangedAt =
            try await tx.entitle(
                subject: subject, plan: plan, anchor: subscription.currentPeriodStart, status: CustomerStatus.of(all),
                addOns: addOns, at: news.now) ?? changedAt
        var events = try SubscriptionEvents.told(
            subscription, previousStatus: stored?.status, plan: plan, previousPlan: previousPlan,
            planVersion: customerChangedAt, cause: cause, at: Millis.date(changedAt))
        if news.paymentReceived {
            events.append(
                try OutboxEvent.message(
                    id: EventIds.derive(provider, news.eventId, "invoice.paid"), type: "invoice.paid",
                    subject: Subject.customer(subject),
                    data: InvoicePaidEventData(
                        customerId: subject, subscriptionId: subscription.id, provider: provider,
                        providerEventId: news.eventId, version: changedAt),
                    at: Millis.date(changedAt)))
        }
        try await tx.recordEvents(events)
        try await tx.addInvoiceItems(news.charges)
        return .applied
    }
}

/// What a subscription change tells webhook endpoints (and, through them, the customer's mail),
/// with ids derived from the cause, so a change applied once tells once.
enum SubscriptionEvents {
    static func told(
        _ subscription: Subscription, previousStatus: SubscriptionStatus?, plan: String, previousPlan: String?,
        planVersion: Int64, cause: String, at now: Date
    ) throws -> [OutboxMessage] {
        let version = Millis.from(now)
        let subject = Subject.customer(subscription.subject)
        var events = try SubscriptionChangeEvents.types(previous: previousStatus, next: subscription.status).map {
            type in
            try OutboxEvent.message(
                id: EventIds.derive(cause, type), type: type, subject: subject,
                data: SubscriptionEventData(subscription, previousStatus: previousStatus, version: version), at: now)
        }
        if let previousPlan, previousPlan != plan {
            events.append(
                try OutboxEvent.message(
                    id: EventIds.derive(cause, "customer.plan_changed"), type: "customer.plan_changed",
                    subject: subject,
                    data: PlanChangeEventData(
                        customerId: subscription.subject, plan: plan, previousPlan: previousPlan, version: planVersion),
                    at: now))
        }
        return events
    }
}
