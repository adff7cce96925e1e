import Foundation
import TollgateCore
import TollgateStorage

/// Selling plans through Stripe: Checkout in subscription mode, the customer portal, and
/// cancellation. State comes back through the webhooks; nothing here changes a plan directly.
public final class StripeBilling: Sendable {
    private let catalog: Catalog
    private let store: any BillingStore & CustomerStore & WorkspaceStore & TransactionalStorage
    private let client: StripeClient?
    private let sync: StripeSubscriptionSync
    private let clock: any TollgateClock
    private let tax: InvoiceSettings.StripeTax

    public init(
        catalog: Catalog, store: any BillingStore & CustomerStore & WorkspaceStore & TransactionalStorage,
        client: StripeClient?,
        policy: SubscriptionPolicy = SubscriptionPolicy(), tax: InvoiceSettings.StripeTax = .init(),
        clock: any TollgateClock
    ) {
        self.tax = tax
        self.catalog = catalog
        self.store = store
        self.client = client
        self.clock = clock
        sync = StripeSubscriptionSync(
            catalog: catalog, store: store, policy: policy, client: client)
    }

    /// Whether a Stripe key is set: then Stripe bills the customers who have no subscription yet.
    public var isConfigured: Bool { client != nil }

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
    private func stripePriceId(_ price: Price, lookupKey: String, field: String, client: StripeClient) async throws
        -> String
    {
        if let explicit = price.stripePriceId { return explicit }
        if let found = try await stripe({ try await client.priceId(lookupKey: lookupKey) }) { return found }
        throw DomainError(
            .conflict,
            "Stripe has no active price with lookup key \(lookupKey); set one, or stripePriceId in the catalog",
            field: field)
    }

    /// The quantity of the price's subscription item (the seats billed); beyond the price's
    /// maximum, the buyer is sent to sales, naming `field`.
    private static func quantity(of price: Price, seats: Int?, field: String) throws -> Int {
        do {
            return try Pricing.quantity(for: price, seats: seats)
        } catch {
            switch error {
            case .contactSales(let maximum):
                throw DomainError.invalidField(field, "beyond \(maximum) seats, contact sales for a custom price")
            }
        }
    }

    /// The customer's Stripe customer, created (with the Tollgate id in its metadata) on first use.
    private func stripeCustomer(for customer: CustomerRecord, client: StripeClient) async throws -> String {
        if let existing = try await store.providerCustomerId(
            provider: PaymentProviderKind.stripe.rawValue, customerId: customer.id)
        {
            return existing
        }
        let isWorkspace = try await store.workspace(id: customer.id) != nil
        let created = try await stripe {
            try await client.createCustomer(
                tollgateCustomer: customer.id, email: customer.email, workspace: isWorkspace)
        }
        try await store.linkProviderCustomer(
            provider: PaymentProviderKind.stripe.rawValue, providerCustomerId: created, customerId: customer.id)
        return created
    }

    public func checkout(
        customerId: String, planId: String, interval: BillingInterval, currency: Currency, seats: Int?,
        addOns: [String: Int] = [:],
        successURL: String, cancelURL: String, idempotencyKey: String
    ) async throws -> StripeClient.CheckoutSession {
        let client = try configured()
        guard let customer = try await store.customer(id: customerId) else {
            throw DomainError(.customerNotFound, "no customer with id \(customerId)", field: "customer")
        }
        guard let plan = catalog.plan(planId) else {
            throw DomainError(.planNotFound, "no plan \(planId) in catalog \(catalog.product)", field: "plan")
        }
        guard let price = plan.prices.first(where: { $0.interval == interval && $0.currency == currency }) else {
            throw DomainError.invalidField("currency", "plan \(planId) has no \(interval.rawValue)ly \(currency) price")
        }
        let quantity = try Self.quantity(of: price, seats: seats, field: "seats")
        // Add-ons (+5, +10 collaborators) are further items of the same subscription.
        var addOnPrices: [(Price, AddOn, Int)] = []
        for (id, count) in addOns.sorted(by: { $0.key < $1.key }) where count > 0 {
            guard let addOn = catalog.addOns.first(where: { $0.id == id }) else {
                throw DomainError.invalidField("addOns.\(id)", "no add-on \(id) in catalog \(catalog.product)")
            }
            guard addOn.plans.isEmpty || addOn.plans.contains(plan.id) else {
                throw DomainError.invalidField("addOns.\(id)", "\(id) is not sold with plan \(plan.id)")
            }
            guard let addOnPrice = addOn.prices.first(where: { $0.interval == interval && $0.currency == currency })
            else {
                throw DomainError.invalidField("addOns.\(id)", "\(id) has no \(interval.rawValue)ly \(currency) price")
            }
            addOnPrices.append((addOnPrice, addOn, count))
        }
        let priceId = try await stripePriceId(
            price, lookupKey: StripeMapping.lookupKey(plan.id, interval: interval, currency: currency), field: "plan",
            client: client)
        var addOnItems: [(priceId: String, quantity: Int)] = []
        for (addOnPrice, addOn, count) in addOnPrices {
            let key = StripeMapping.lookupKey(addOn.id, interval: interval, currency: currency)
            addOnItems.append(
                (
                    try await stripePriceId(addOnPrice, lookupKey: key, field: "addOns.\(addOn.id)", client: client),
                    count
                ))
        }
        let trialDays = try await TrialEligibility.trial(of: plan, for: customerId, store: store)?.days
        let stripeCustomer = try await stripeCustomer(for: customer, client: client)
        return try await stripe {
            var request = StripeClient.CheckoutRequest(
                customer: stripeCustomer, tollgateCustomer: customerId, priceId: priceId, quantity: quantity,
                trialDays: trialDays,
                requirePaymentMethod: plan.trial?.requiresPaymentMethod ?? true, successURL: successURL,
                cancelURL: cancelURL
            )
            request.addOnItems = addOnItems
            request.automaticTax = tax.automaticTax
            request.taxIdCollection = tax.taxIdCollection
            return try await client.createCheckoutSession(
                request,
                idempotencyKey: "tollgate-checkout-\(customerId)-\(idempotencyKey)"
            )
        }
    }

    /// Sells a credit pack through Checkout in payment mode; the credits are granted when the
    /// paid session's webhook arrives (once, however often it arrives).
    public func checkoutCreditPack(
        customerId: String, packId: String, currency: Currency, successURL: String, cancelURL: String,
        idempotencyKey: String
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
        let priceId = try await stripePriceId(
            price, lookupKey: "\(pack.id)_\(currency.code.lowercased())", field: "pack", client: client)
        let stripeCustomer = try await stripeCustomer(for: customer, client: client)
        return try await stripe {
            try await client.createPaymentCheckout(
                customer: stripeCustomer, tollgateCustomer: customerId, priceId: priceId,
                metadata: ["tollgate_customer": customerId, "tollgate_credit_pack": pack.id],
                successURL: successURL, cancelURL: cancelURL,
                idempotencyKey: "tollgate-pack-\(customerId)-\(idempotencyKey)"
            )
        }
    }

    public func portal(customerId: String, returnURL: String) async throws -> String {
        let client = try configured()
        guard
            let stripeCustomer = try await store.providerCustomerId(
                provider: PaymentProviderKind.stripe.rawValue, customerId: customerId)
        else {
            throw DomainError(
                .notFound, "customer \(customerId) has no Stripe account yet: start a checkout first", field: "customer"
            )
        }
        return try await stripe { try await client.createPortalSession(customer: stripeCustomer, returnURL: returnURL) }
    }

    /// Cancels a live Stripe subscription; the webhook that follows moves the plan.
    public func cancel(_ subscription: Subscription, atPeriodEnd: Bool) async throws {
        let client = try configured()
        try await stripe { try await client.cancelSubscription(id: subscription.id, atPeriodEnd: atPeriodEnd) }
    }

    /// Moves a Stripe subscription's plan item to the target plan's price. An upgrade is
    /// invoiced at once with Stripe's proration; a downgrade bills the lower price from the next
    /// period while the entitlements stay on the current plan until this one ends. Stripe's
    /// answer is applied at once (its webhooks, arriving later, change nothing more).
    public func changePlan(_ subscription: Subscription, to planId: String, idempotencyKey: String) async throws
        -> Subscription
    {
        let client = try configured()
        guard let target = catalog.plan(planId), let current = catalog.plan(subscription.planId) else {
            throw DomainError(.planNotFound, "no plan \(planId) in catalog \(catalog.product)", field: "plan")
        }
        guard !target.isFree else {
            throw DomainError.invalidField("plan", "\(planId) is free: cancel the subscription instead")
        }
        guard
            let price = target.prices.first(where: {
                $0.interval == subscription.interval && $0.currency == subscription.currency
            })
        else {
            throw DomainError.invalidField(
                "plan", "plan \(planId) has no \(subscription.interval.rawValue)ly \(subscription.currency) price")
        }
        let quantity = try Self.quantity(of: price, seats: subscription.seats, field: "plan")
        let object = try await stripe { try await client.subscription(id: subscription.id) }
        guard let live = StripeSubscription(json: object),
            let item = StripeMapping.plan(for: live, in: catalog)?.item.id
        else {
            throw DomainError(
                .conflict, "Stripe subscription \(subscription.id) has no item for a plan of catalog \(catalog.product)"
            )
        }
        let priceId = try await stripePriceId(
            price,
            lookupKey: StripeMapping.lookupKey(
                target.id, interval: subscription.interval, currency: subscription.currency), field: "plan",
            client: client
        )
        let upgrade = target.order > current.order
        let updated = try await stripe {
            try await client.updateSubscriptionItem(
                subscription: subscription.id, item: item, priceId: priceId, quantity: quantity,
                prorationBehavior: upgrade ? "always_invoice" : "none",
                // A trial is of its plan: moving to one without a trial starts paying now.
                endingTrial: upgrade && subscription.status == .trialing && target.trial == nil,
                idempotencyKey: "tollgate-change-\(subscription.id)-\(planId)-\(idempotencyKey)"
            )
        }
        // Stripe's timestamps have whole seconds: an event from the same second still applies after this.
        let now = clock.now()
        let version = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        guard let answer = StripeSubscription(json: updated),
            let next = try await sync.subscription(
                from: answer, deleted: false, at: version, scheduledDowngrade: upgrade ? nil : target.id)
        else {
            throw DomainError(.unavailable, "Stripe answered the plan change with an unreadable subscription")
        }
        _ = try await sync.apply(
            "api:change:\(subscription.id):\(planId):\(idempotencyKey)", "tollgate.plan_changed", version: version,
            next, now: now)
        return try await store.subscription(id: subscription.id) ?? next
    }
}
