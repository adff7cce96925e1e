import Foundation
import TollgateCore
import TollgateStore

/// Selling plans through Stripe: Checkout in subscription mode, the customer portal, and
/// cancellation. State comes back through the webhooks; nothing here changes a plan directly.
public final class StripeBilling: Sendable {
    private let catalog: Catalog
    private let store: any BillingStore & CustomerStore & WorkspaceStore
    private let client: StripeClient?

    public init(catalog: Catalog, store: any BillingStore & CustomerStore & WorkspaceStore, client: StripeClient?) {
        self.catalog = catalog
        self.store = store
        self.client = client
    }

    private func configured() throws -> StripeClient {
        guard let client else { throw DomainError(.unavailable, "Stripe is not configured: set STRIPE_SECRET_KEY") }
        return client
    }

    private func stripe<T>(_ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch let failure as StripeClient.Failure {
            throw DomainError(.unavailable, "Stripe refused the request: \(failure)")
        }
    }

    /// The catalog's explicit Stripe price id, else the active price with `lookupKey`.
    private func stripePriceId(_ price: Price, lookupKey: String, field: String, client: StripeClient) async throws -> String {
        if let explicit = price.stripePriceId { return explicit }
        if let found = try await stripe({ try await client.priceId(lookupKey: lookupKey) }) { return found }
        throw DomainError(.conflict, "Stripe has no active price with lookup key \(lookupKey); set one, or stripePriceId in the catalog", field: field)
    }

    /// The customer's Stripe customer, created (with the Tollgate id in its metadata) on first use.
    private func stripeCustomer(for customer: CustomerRecord, client: StripeClient) async throws -> String {
        if let existing = try await store.providerCustomerId(provider: "stripe", customerId: customer.id) { return existing }
        let isWorkspace = try await store.workspace(id: customer.id) != nil
        let created = try await stripe { try await client.createCustomer(tollgateCustomer: customer.id, email: customer.email, workspace: isWorkspace) }
        try await store.linkProviderCustomer(provider: "stripe", providerCustomerId: created, customerId: customer.id)
        return created
    }

    public func checkout(
        customerId: String, planId: String, interval: BillingInterval, currency: Currency, seats: Int?,
        successURL: String, cancelURL: String, idempotencyKey: String
    ) async throws -> StripeClient.CheckoutSession {
        let client = try configured()
        guard let customer = try await store.customer(id: customerId) else {
            throw DomainError(.customerNotFound, "no customer with id \(customerId)", field: "customer")
        }
        guard let plan = catalog.plan(planId) else { throw DomainError(.planNotFound, "no plan \(planId) in catalog \(catalog.product)", field: "plan") }
        guard let price = plan.prices.first(where: { $0.interval == interval && $0.currency == currency }) else {
            throw DomainError.invalidField("currency", "plan \(planId) has no \(interval.rawValue)ly \(currency) price")
        }
        var quantity = 1
        if price.perSeatAmount != nil {
            quantity = max(price.minimumSeats ?? 1, seats ?? 0)
            if let maximum = price.maximumSeats, quantity > maximum {
                throw DomainError.invalidField("seats", "beyond \(maximum) seats, contact sales for a custom price")
            }
        }
        let lookupKey = "\(plan.id)_\(interval == .month ? "monthly" : "yearly")_\(currency.code.lowercased())"
        let priceId = try await stripePriceId(price, lookupKey: lookupKey, field: "plan", client: client)
        let trialDays = try await store.hasHadTrial(subject: customerId) ? nil : plan.trial?.days
        let stripeCustomer = try await stripeCustomer(for: customer, client: client)
        return try await stripe {
            try await client.createCheckoutSession(
                StripeClient.CheckoutRequest(
                    customer: stripeCustomer, tollgateCustomer: customerId, priceId: priceId, quantity: quantity, trialDays: trialDays,
                    requirePaymentMethod: plan.trial?.requiresPaymentMethod ?? true, successURL: successURL, cancelURL: cancelURL
                ),
                idempotencyKey: "tollgate-checkout-\(customerId)-\(idempotencyKey)"
            )
        }
    }

    /// Sells a credit pack through Checkout in payment mode; the credits are granted when the
    /// paid session's webhook arrives (once, however often it arrives).
    public func checkoutCreditPack(
        customerId: String, packId: String, currency: Currency, successURL: String, cancelURL: String, idempotencyKey: String
    ) async throws -> StripeClient.CheckoutSession {
        let client = try configured()
        guard let customer = try await store.customer(id: customerId) else {
            throw DomainError(.customerNotFound, "no customer with id \(customerId)", field: "customer")
        }
        guard let pack = catalog.creditPacks.first(where: { $0.id == packId }) else {
            throw DomainError.invalidField("pack", "catalog \(catalog.product) has no credit pack \(packId)")
        }
        guard let price = pack.prices.first(where: { $0.currency == currency }) else {
            throw DomainError.invalidField("currency", "pack \(packId) has no \(currency) price")
        }
        let priceId = try await stripePriceId(price, lookupKey: "\(pack.id)_\(currency.code.lowercased())", field: "pack", client: client)
        let stripeCustomer = try await stripeCustomer(for: customer, client: client)
        return try await stripe {
            try await client.createPaymentCheckout(
                customer: stripeCustomer, tollgateCustomer: customerId, priceId: priceId,
                metadata: ["tollgate_customer": customerId, "tollgate_credit_pack": pack.id],
                successURL: successURL, cancelURL: cancelURL, idempotencyKey: "tollgate-pack-\(customerId)-\(idempotencyKey)"
            )
        }
    }

    public func portal(customerId: String, returnURL: String) async throws -> String {
        let client = try configured()
        guard let stripeCustomer = try await store.providerCustomerId(provider: "stripe", customerId: customerId) else {
            throw DomainError(.notFound, "customer \(customerId) has no Stripe account yet: start a checkout first", field: "customer")
        }
        return try await stripe { try await client.createPortalSession(customer: stripeCustomer, returnURL: returnURL) }
    }

    /// Cancels the customer's live Stripe subscription; the webhook that follows moves the plan.
    public func cancel(customerId: String, atPeriodEnd: Bool) async throws -> Subscription {
        let client = try configured()
        let live = try await store.subscriptions(subject: customerId).filter { [.trialing, .active, .pastDue].contains($0.status) && $0.id.hasPrefix("sub_") && !$0.id.hasPrefix("sub_manual_") }
        guard let subscription = live.max(by: { $0.currentPeriodStart < $1.currentPeriodStart }) else {
            throw DomainError(.notFound, "customer \(customerId) has no live Stripe subscription", field: "customer")
        }
        try await stripe { try await client.cancelSubscription(id: subscription.id, atPeriodEnd: atPeriodEnd) }
        return subscription
    }
}
