import Foundation
import Logging
import TollgateCore
import TollgateStorage

/// Turns Stripe's subscription objects (from webhooks or API answers) into Tollgate's state and
/// applies them: the object's own state and timestamps, never a blind toggle; the plan, its
/// seats and its add-on items; a downgrade Tollgate scheduled stays pending until the period ends.
struct StripeSubscriptionSync: Sendable {
    let catalog: Catalog
    let store: any BillingStore & CustomerStore & TransactionalStorage
    let policy: SubscriptionPolicy
    /// To read a Stripe customer's metadata when a subscription names one not linked yet.
    let client: StripeClient?

    /// Stores `subscription` under `eventId` (once), moving the subject's plan and add-ons.
    func apply(_ eventId: String, _ type: String, version: Date, _ subscription: Subscription, now: Date) async throws
        -> WebhookOutcome
    {
        var news = SubscriptionNews(
            provider: .stripe, eventId: eventId, type: type, version: version, subscription: subscription, now: now)
        news.syncAddOns = true
        // Stripe's payment; Tollgate's own invoices tell theirs as they are marked paid.
        news.paymentReceived = ["invoice.paid", "invoice.payment_succeeded"].contains(type)
        let rules = SubscriptionService.rules(catalog: catalog, policy: policy, now: now)
        return try await store.transaction { [news] tx in try await SubscriptionLedger.apply(news, rules: rules, in: tx)
        }
    }

    /// Tollgate's view of a Stripe subscription; nil when no item maps to a catalog plan.
    /// `scheduledDowngrade`: the plan Tollgate just moved the price to, effective at period end.
    func subscription(
        from stripe: StripeSubscription, deleted: Bool, at created: Date, scheduledDowngrade: String? = nil
    ) async throws -> Subscription? {
        guard let (plan, interval, currency, item) = StripeMapping.plan(for: stripe, in: catalog) else { return nil }
        let subject = try await subject(of: stripe)
        let status = deleted ? .canceled : StripeMapping.status(stripe.status)
        let previous = try await store.subscription(id: stripe.id)
        let periodStart = stripe.currentPeriodStart ?? created
        var planId = plan.id
        var pending: String?
        // Stripe already bills the lower price from the next invoice; the entitlements stay on the
        // higher plan until the period that was paid for ends.
        if let previous, periodStart <= previous.currentPeriodStart, !deleted,
            let downgrade = scheduledDowngrade ?? previous.pendingPlanId, downgrade == plan.id,
            previous.planId != plan.id
        {
            planId = previous.planId
            pending = plan.id
        }
        let perSeat = plan.prices.contains { $0.perSeatAmount != nil }
        return Subscription(
            id: stripe.id, subject: subject, planId: planId, interval: interval, currency: currency,
            seats: perSeat ? item.quantity : nil,
            status: status, currentPeriodStart: periodStart,
            currentPeriodEnd: stripe.currentPeriodEnd
                ?? SubscriptionMachine.periodEnd(from: created, interval: interval),
            trialEnd: stripe.trialEnd, cancelAtPeriodEnd: stripe.cancelAtPeriodEnd,
            canceledAt: stripe.canceledAt ?? (status == .canceled ? created : nil),
            pastDueSince: status == .pastDue ? (previous?.pastDueSince ?? created) : nil,
            pendingPlanId: pending, hasPaymentMethod: true, addOns: StripeMapping.addOns(for: stripe, in: catalog)
        )
    }

    /// The Tollgate customer (or workspace) a Stripe subscription belongs to.
    private func subject(of stripe: StripeSubscription) async throws -> String {
        let subject: String
        if let explicit = stripe.metadata["tollgate_workspace"] ?? stripe.metadata["tollgate_customer"] {
            subject = explicit
        } else if let linked = try await store.customerId(
            provider: PaymentProviderKind.stripe.rawValue, providerCustomerId: stripe.customer)
        {
            subject = linked
        } else if let client, let fetched = try await linkedFromStripe(stripe.customer, client: client) {
            // A subscription made in Stripe's dashboard for a customer that carries our id.
            subject = fetched
        } else {
            throw DomainError(
                .unavailable, "Stripe customer \(stripe.customer) is not linked to a Tollgate customer yet; retry later"
            )
        }
        guard try await store.customer(id: subject) != nil else {
            throw DomainError(.unavailable, "customer \(subject) does not exist in Tollgate yet; retry later")
        }
        return subject
    }

    /// The Tollgate customer a Stripe customer is linked to, or carries the id of in its
    /// metadata (then linked); nil when neither.
    func customerId(forStripeCustomer stripeCustomer: String) async throws -> String? {
        if let linked = try await store.customerId(
            provider: PaymentProviderKind.stripe.rawValue, providerCustomerId: stripeCustomer)
        {
            return linked
        }
        guard let client else { return nil }
        return try await linkedFromStripe(stripeCustomer, client: client)
    }

    private func linkedFromStripe(_ stripeCustomer: String, client: StripeClient) async throws -> String? {
        let metadata: [String: String]
        do {
            metadata = try await client.customerMetadata(id: stripeCustomer)
        } catch {
            throw DomainError(.unavailable, "cannot read Stripe customer \(stripeCustomer): \(error)")
        }
        guard let ours = metadata["tollgate_workspace"] ?? metadata["tollgate_customer"] else { return nil }
        try await store.linkProviderCustomer(
            provider: PaymentProviderKind.stripe.rawValue, providerCustomerId: stripeCustomer, customerId: ours)
        return ours
    }
}
