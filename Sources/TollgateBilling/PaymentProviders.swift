import Foundation
import TollgateCore
import TollgateMeter
import TollgateStorage

/// What a payment provider does for a customer. Each door (the API, the console, the portal)
/// asks through `Billing`, so the same operation has the same effect from all of them.
public protocol PaymentProvider: Sendable {
    var kind: PaymentProviderKind { get }
    /// Whether an upgrade's proration is charged at once (Stripe) or added to the next invoice.
    var chargesProrationNow: Bool { get }
    /// The subscription after the cancellation as far as it is known now (a provider that
    /// confirms later, by webhook, answers what was asked).
    func cancel(_ subscription: Subscription, atPeriodEnd: Bool) async throws -> Subscription
    func changePlan(_ subscription: Subscription, to planId: String, idempotencyKey: String) async throws
        -> SubscriptionService.PlanChange
    /// The plan's trial (eligibility is checked by `Billing` first).
    func startTrial(_ order: PlanOrder, returnTo: ReturnPages?) async throws -> Sale<Subscription>
    /// A paid subscription to the plan.
    func subscribe(_ order: PlanOrder, returnTo: ReturnPages?) async throws -> Sale<Subscription>
    func sellCreditPack(_ order: PackOrder, returnTo: ReturnPages?) async throws -> Sale<PackSale>
}

/// Where a sale stands when the door answers: made here, or waiting for the buyer on the
/// provider's own page (Stripe's Checkout), whose webhook completes it.
public enum Sale<Made: Sendable>: Sendable {
    case made(Made)
    case onProviderPage(id: String?, url: String)
}

/// The pages a provider's own page sends the buyer back to.
public struct ReturnPages: Sendable, Hashable {
    public let success: String
    public let cancel: String

    public init(success: String, cancel: String) {
        self.success = success
        self.cancel = cancel
    }
}

/// A plan asked for: for whom, on which terms, once (`idempotencyKey`).
public struct PlanOrder: Sendable {
    public let customer: String
    public let planId: String
    public let interval: BillingInterval
    public let currency: Currency
    public var seats: Int?
    public var addOns: [String: Int]
    public let idempotencyKey: String

    public init(
        customer: String, planId: String, interval: BillingInterval, currency: Currency, seats: Int? = nil,
        addOns: [String: Int] = [:], idempotencyKey: String
    ) {
        self.customer = customer
        self.planId = planId
        self.interval = interval
        self.currency = currency
        self.seats = seats
        self.addOns = addOns
        self.idempotencyKey = idempotencyKey
    }
}

/// A credit pack asked for; without a currency, the pack's first price.
public struct PackOrder: Sendable {
    public let customer: String
    public let packId: String
    public let currency: Currency?
    public let idempotencyKey: String

    public init(customer: String, packId: String, currency: Currency?, idempotencyKey: String) {
        self.customer = customer
        self.packId = packId
        self.currency = currency
        self.idempotencyKey = idempotencyKey
    }

    /// The pack and its price in the order's currency.
    func priced(in catalog: Catalog) throws -> (CreditPack, Price) {
        guard let pack = catalog.creditPacks.first(where: { $0.id == packId }) else {
            throw DomainError.invalidField("pack", "no credit pack \(packId) in the catalog")
        }
        guard let price = currency.map({ code in pack.prices.first { $0.currency == code } }) ?? pack.prices.first
        else {
            throw DomainError.invalidField("currency", "the pack is not priced in \(currency?.code ?? "any currency")")
        }
        return (pack, price)
    }
}

/// A credit pack sold on the customer's invoice: the credits granted now, the charge waiting for
/// the next invoice (`created` false: the order was made before, with the same key).
public struct PackSale: Sendable {
    public let pack: CreditPack
    public let item: InvoiceItemRecord
    public let created: Bool
}

/// Tollgate's own invoicing: the subscription state machine, applied here.
public struct ManualProvider: PaymentProvider {
    let subscriptions: SubscriptionService
    let invoices: InvoiceService
    let credits: CreditService
    let catalog: Catalog
    public var kind: PaymentProviderKind { .manual }
    public var chargesProrationNow: Bool { false }

    public func cancel(_ subscription: Subscription, atPeriodEnd: Bool) async throws -> Subscription {
        try await subscriptions.cancel(subscription, atPeriodEnd: atPeriodEnd)
    }

    public func changePlan(_ subscription: Subscription, to planId: String, idempotencyKey: String) async throws
        -> SubscriptionService.PlanChange
    {
        try await subscriptions.changePlan(subscription, to: planId, idempotencyKey: idempotencyKey)
    }

    public func startTrial(_ order: PlanOrder, returnTo: ReturnPages?) async throws -> Sale<Subscription> {
        .made(
            try await subscriptions.startTrial(
                customerId: order.customer, planId: order.planId, interval: order.interval, currency: order.currency))
    }

    public func subscribe(_ order: PlanOrder, returnTo: ReturnPages?) async throws -> Sale<Subscription> {
        .made(
            try await subscriptions.subscribe(
                customerId: order.customer, planId: order.planId, interval: order.interval, currency: order.currency,
                seats: order.seats, idempotencyKey: order.idempotencyKey))
    }

    /// The credits granted now, the pack charged on the next invoice. Both are idempotent on the
    /// order's key: a retry after a failure between them completes the other.
    public func sellCreditPack(_ order: PackOrder, returnTo: ReturnPages?) async throws -> Sale<PackSale> {
        let (pack, price) = try order.priced(in: catalog)
        _ = try await credits.grant(
            customerId: order.customer, amount: pack.amount, creditType: pack.creditType, expiresAt: nil, priority: 0,
            reason: .purchase, reference: pack.id, idempotencyKey: "pack-on-invoice:" + order.idempotencyKey)
        let (item, created) = try await invoices.addItem(
            customer: order.customer, description: "\(pack.name) (credit pack)", quantity: 1,
            unitAmount: price.amount, currency: price.currency, idempotencyKey: order.idempotencyKey,
            kind: .creditPack)
        return .made(PackSale(pack: pack, item: item, created: created))
    }
}

/// Stripe: the change is asked of Stripe, and comes back as its webhook; what is bought is paid
/// on Stripe's Checkout page.
public struct StripeProvider: PaymentProvider {
    let stripe: StripeBilling
    let catalog: Catalog
    public var kind: PaymentProviderKind { .stripe }
    public var chargesProrationNow: Bool { true }

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

    /// Checkout gives the plan's trial to a customer who may still take it.
    public func startTrial(_ order: PlanOrder, returnTo: ReturnPages?) async throws -> Sale<Subscription> {
        try await subscribe(order, returnTo: returnTo)
    }

    public func subscribe(_ order: PlanOrder, returnTo: ReturnPages?) async throws -> Sale<Subscription> {
        let pages = try Self.required(returnTo)
        let session = try await stripe.checkout(
            customerId: order.customer, planId: order.planId, interval: order.interval, currency: order.currency,
            seats: order.seats, addOns: order.addOns, successURL: pages.success, cancelURL: pages.cancel,
            idempotencyKey: order.idempotencyKey)
        return .onProviderPage(id: session.id, url: session.url)
    }

    public func sellCreditPack(_ order: PackOrder, returnTo: ReturnPages?) async throws -> Sale<PackSale> {
        let pages = try Self.required(returnTo)
        let (pack, price) = try order.priced(in: catalog)
        let session = try await stripe.checkoutCreditPack(
            customerId: order.customer, packId: pack.id, currency: price.currency, successURL: pages.success,
            cancelURL: pages.cancel, idempotencyKey: order.idempotencyKey)
        return .onProviderPage(id: session.id, url: session.url)
    }

    private static func required(_ pages: ReturnPages?) throws -> ReturnPages {
        guard let pages else {
            throw DomainError.invalidField("successUrl", "Stripe's Checkout needs the pages to send the buyer back to")
        }
        return pages
    }
}
