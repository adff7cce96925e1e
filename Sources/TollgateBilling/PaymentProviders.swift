import Foundation
import TollgateCore
import TollgateStorage

/// What a payment provider does to a live subscription. Each door (the API, the console, the
/// portal) asks through `Billing`, so the same operation has the same effect from all of them.
public protocol PaymentProvider: Sendable {
    var kind: PaymentProviderKind { get }
    /// The subscription after the cancellation as far as it is known now (a provider that
    /// confirms later, by webhook, answers what was asked).
    func cancel(_ subscription: Subscription, atPeriodEnd: Bool) async throws -> Subscription
    func changePlan(_ subscription: Subscription, to planId: String, idempotencyKey: String) async throws
        -> SubscriptionService.PlanChange
    /// Whether an upgrade's proration is charged at once (Stripe) or added to the next invoice.
    var chargesProrationNow: Bool { get }
}

/// Tollgate's own invoicing: the subscription state machine, applied here.
public struct ManualProvider: PaymentProvider {
    let subscriptions: SubscriptionService
    public var kind: PaymentProviderKind { .manual }
    public var chargesProrationNow: Bool { false }

    public init(subscriptions: SubscriptionService) { self.subscriptions = subscriptions }

    public func cancel(_ subscription: Subscription, atPeriodEnd: Bool) async throws -> Subscription {
        try await subscriptions.cancel(subscription, atPeriodEnd: atPeriodEnd)
    }

    public func changePlan(_ subscription: Subscription, to planId: String, idempotencyKey: String) async throws
        -> SubscriptionService.PlanChange
    {
        try await subscriptions.changePlan(subscription, to: planId, idempotencyKey: idempotencyKey)
    }
}

/// Stripe: the change is asked of Stripe, and comes back as its webhook.
public struct StripeProvider: PaymentProvider {
    let stripe: StripeBilling
    public var kind: PaymentProviderKind { .stripe }
    public var chargesProrationNow: Bool { true }

    public init(stripe: StripeBilling) { self.stripe = stripe }

    public func cancel(_ subscription: Subscription, atPeriodEnd: Bool) async throws -> Subscription {
        try await stripe.cancel(subscription, atPeriodEnd: atPeriodEnd)
        var asked = subscription
        if atPeriodEnd { asked.cancelAtPeriodEnd = true } else { asked.status = .canceled }
        return asked
    }

    public func changePlan(_ subscription: Subscription, to planId: String, idempotencyKey: String) async throws
        -> SubscriptionService.PlanChange
    {
        SubscriptionService.PlanChange(
            subscription: try await stripe.changePlan(subscription, to: planId, idempotencyKey: idempotencyKey),
            proration: nil)
    }
}

/// The billing façade every door uses for a customer's live subscription: it finds the provider
/// that runs it and asks that provider.
public struct Billing: Sendable {
    let subscriptions: SubscriptionService
    let providers: [PaymentProviderKind: any PaymentProvider]

    public init(subscriptions: SubscriptionService, stripe: StripeBilling) {
        self.subscriptions = subscriptions
        providers = [
            .manual: ManualProvider(subscriptions: subscriptions), .stripe: StripeProvider(stripe: stripe),
        ]
    }

    /// The customer's live subscription and the provider that runs it.
    public func live(customer: String) async throws -> (subscription: Subscription, provider: any PaymentProvider)? {
        guard let (subscription, name) = try await subscriptions.liveSubscription(subject: customer) else {
            return nil
        }
        return (subscription, try provider(named: name))
    }

    /// The provider a stored name stands for.
    public func provider(named name: String) throws -> any PaymentProvider {
        guard let kind = PaymentProviderKind(rawValue: name), let provider = providers[kind] else {
            throw DomainError(.conflict, "subscriptions of provider \(name) are not handled here")
        }
        return provider
    }

    /// Cancels the customer's live subscription, whichever provider runs it: before and after.
    public func cancel(customer: String, atPeriodEnd: Bool) async throws
        -> (before: Subscription, after: Subscription, provider: PaymentProviderKind)
    {
        guard let (live, provider) = try await live(customer: customer) else {
            throw DomainError(.notFound, "customer \(customer) has no live subscription", field: "customer")
        }
        return (live, try await provider.cancel(live, atPeriodEnd: atPeriodEnd), provider.kind)
    }

    /// Changes the plan of the customer's live subscription: upgrades at once, downgrades at the
    /// end of the period, on either provider.
    public func changePlan(customer: String, to planId: String, idempotencyKey: String) async throws
        -> (before: Subscription, change: SubscriptionService.PlanChange, provider: PaymentProviderKind)
    {
        guard let (live, provider) = try await live(customer: customer) else {
            throw DomainError(
                .conflict, "customer \(customer) has no live subscription: start one with checkout (or a trial)",
                field: "customer")
        }
        return (live, try await provider.changePlan(live, to: planId, idempotencyKey: idempotencyKey), provider.kind)
    }
}
