import Foundation
import TollgateCore
import TollgateMeter
import TollgateStorage

/// The billing façade every door uses: it finds the provider that bills a customer (the one
/// running their live subscription, else the one that takes new subscriptions) and asks it. The
/// rule every provider shares — a trial once per customer, whichever gave the first — is kept
/// here, once.
public struct Billing: Sendable {
    let subscriptions: SubscriptionService
    let catalog: Catalog
    let manual: ManualProvider
    let stripe: StripeProvider
    /// Who bills a customer's first subscription: Stripe when configured, else Tollgate's invoices.
    public let newSubscriptions: PaymentProviderKind

    public init(
        subscriptions: SubscriptionService, invoices: InvoiceService, credits: CreditService, stripe: StripeBilling,
        catalog: Catalog
    ) {
        self.subscriptions = subscriptions
        self.catalog = catalog
        manual = ManualProvider(subscriptions: subscriptions, invoices: invoices, credits: credits, catalog: catalog)
        self.stripe = StripeProvider(stripe: stripe, catalog: catalog)
        newSubscriptions = stripe.isConfigured ? .stripe : .manual
    }

    public func provider(_ kind: PaymentProviderKind) -> any PaymentProvider {
        switch kind {
        case .manual: manual
        case .stripe: stripe
        }
    }

    /// The provider a stored name stands for.
    public func provider(named name: String) throws -> any PaymentProvider {
        guard let kind = PaymentProviderKind(rawValue: name) else {
            throw DomainError(.conflict, "subscriptions of provider \(name) are not handled here")
        }
        return provider(kind)
    }

    /// The provider that bills the customer: their live subscription's, else the one for new ones.
    public func provider(for customer: String) async throws -> any PaymentProvider {
        try await live(customer: customer)?.provider ?? provider(newSubscriptions)
    }

    /// The customer's live subscription and the provider that runs it.
    public func live(customer: String) async throws -> (subscription: Subscription, provider: any PaymentProvider)? {
        guard let (subscription, name) = try await subscriptions.liveSubscription(subject: customer) else {
            return nil
        }
        return (subscription, try provider(named: name))
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

    /// How a customer without a subscription takes a plan: on the provider's own page, through
    /// the plan's trial (offered once, without a card), or subscribed at once.
    public enum Start: Sendable, Equatable {
        case onProviderPage
        case trial(days: Int)
        case subscribe
    }

    public func howToStart(_ plan: Plan, customer: String) async throws -> Start {
        if newSubscriptions != .manual { return .onProviderPage }
        if let trial = try await trialWithoutCard(plan, customer: customer) { return .trial(days: trial.days) }
        return .subscribe
    }

    /// The plan's trial, when the customer may still take it and it asks for no card.
    private func trialWithoutCard(_ plan: Plan, customer: String) async throws -> Trial? {
        guard let trial = try await subscriptions.trialOffered(plan, to: customer), !trial.requiresPaymentMethod
        else { return nil }
        return trial
    }

    /// Starts the plan for a customer without a subscription, as `howToStart` says; `via` names
    /// the provider when the door chose it (the API's routes are per provider).
    public func start(_ order: PlanOrder, via kind: PaymentProviderKind? = nil, returnTo: ReturnPages?) async throws
        -> Sale<Subscription>
    {
        let plan = try plan(of: order)
        let provider = provider(kind ?? newSubscriptions)
        if provider.kind == .manual, try await trialWithoutCard(plan, customer: order.customer) != nil {
            return try await provider.startTrial(order, returnTo: returnTo)
        }
        return try await provider.subscribe(order, returnTo: returnTo)
    }

    /// Starts the plan's trial, once per customer whichever provider gave the first.
    public func startTrial(_ order: PlanOrder, via kind: PaymentProviderKind? = nil, returnTo: ReturnPages?)
        async throws -> Sale<Subscription>
    {
        let plan = try plan(of: order)
        guard plan.trial != nil else { throw DomainError.invalidField("plan", "plan \(plan.id) has no trial") }
        if let (live, provider) = try await live(customer: order.customer) {
            throw DomainError(
                .conflict,
                "customer \(order.customer) has a \(live.status.rawValue) \(provider.kind.rawValue) subscription: "
                    + "change its plan",
                field: "customer")
        }
        guard try await subscriptions.trialOffered(plan, to: order.customer) != nil else {
            throw DomainError(.conflict, "customer \(order.customer) has already had a trial", field: "customer")
        }
        let provider = try await chosen(kind, for: order.customer)
        return try await provider.startTrial(order, returnTo: returnTo)
    }

    /// The currency in which an end user may buy `pack` themselves, nil when they may not: on the
    /// provider's page (Stripe: paid before the credits come), or on the invoices of a paid
    /// manual subscription in a currency the pack is priced in (charged with its next period). A
    /// customer whose invoices nothing bills takes no credits on account.
    func selfServeCurrency(of pack: CreditPack, customer: String) async throws -> Currency? {
        let live = try await live(customer: customer)
        let priced = Set(pack.prices.map(\.currency))
        switch (live?.provider ?? provider(newSubscriptions)).kind {
        case .stripe:
            if let currency = live?.subscription.currency, priced.contains(currency) { return currency }
            return pack.prices.first?.currency
        case .manual:
            guard let subscription = live?.subscription, [.active, .pastDue].contains(subscription.status),
                priced.contains(subscription.currency)
            else { return nil }
            return subscription.currency
        }
    }

    /// The packs a customer may buy as the portal and the console sell them, each at the price
    /// they would pay (`selfServeCurrency`).
    public func creditPacksOffered(to customer: String) async throws -> [(pack: CreditPack, price: Price)] {
        var offered: [(pack: CreditPack, price: Price)] = []
        for pack in catalog.creditPacks {
            guard let currency = try await selfServeCurrency(of: pack, customer: customer),
                let price = pack.prices.first(where: { $0.currency == currency })
            else { continue }
            offered.append((pack, price))
        }
        return offered
    }

    /// Sells `packId` as the portal and the console offer it: in the currency of
    /// `selfServeCurrency`, never on account to a customer nothing bills (409).
    public func sellOfferedCreditPack(
        _ packId: String?, customer: String, idempotencyKey: String, returnTo: ReturnPages
    ) async throws -> Sale<PackSale> {
        guard let pack = catalog.creditPacks.first(where: { $0.id == packId }) else {
            throw DomainError.invalidField("pack", "no such credit pack")
        }
        guard let currency = try await selfServeCurrency(of: pack, customer: customer) else {
            throw DomainError(
                .conflict, "credit packs are bought with a paid subscription: choose a plan first", field: "pack")
        }
        let order = PackOrder(customer: customer, packId: pack.id, currency: currency, idempotencyKey: idempotencyKey)
        return try await sellCreditPack(order, returnTo: returnTo)
    }

    /// The plans whose trial the customer may start now: none beside a live subscription, each
    /// once, and one that asks for a card only where a provider's page takes it.
    public func trialsOffered(to customer: String) async throws -> [Plan] {
        guard try await live(customer: customer) == nil else { return [] }
        var offered: [Plan] = []
        for plan in catalog.plans {
            guard let trial = try await subscriptions.trialOffered(plan, to: customer),
                newSubscriptions != .manual || !trial.requiresPaymentMethod
            else { continue }
            offered.append(plan)
        }
        return offered
    }

    /// Sells a credit pack through the provider that bills the customer (or the one named).
    public func sellCreditPack(_ order: PackOrder, via kind: PaymentProviderKind? = nil, returnTo: ReturnPages?)
        async throws -> Sale<PackSale>
    {
        let provider = try await chosen(kind, for: order.customer)
        return try await provider.sellCreditPack(order, returnTo: returnTo)
    }

    /// The provider the door named, else the one that bills the customer.
    private func chosen(_ kind: PaymentProviderKind?, for customer: String) async throws -> any PaymentProvider {
        if let kind { return provider(kind) }
        return try await provider(for: customer)
    }

    /// The order's plan, priced in its currency and interval.
    private func plan(of order: PlanOrder) throws -> Plan {
        guard let plan = catalog.plan(order.planId) else {
            throw DomainError(.planNotFound, "no plan \(order.planId) in catalog \(catalog.product)", field: "plan")
        }
        guard plan.prices.contains(where: { $0.currency == order.currency && $0.interval == order.interval }) else {
            throw DomainError.invalidField(
                "currency", "plan \(plan.id) has no \(order.interval.rawValue)ly \(order.currency.code) price")
        }
        return plan
    }
}
