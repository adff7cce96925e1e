import Foundation
import Logging
import TollgateCore
import TollgateStorage

/// Handles Stripe's webhooks: verifies the signature, records each event once, applies the
/// subscription object's own state (never a blind toggle) unless a newer event already did,
/// and moves the customer's plan in the same transaction.
public final class StripeWebhookService: Sendable {
    private let catalog: Catalog
    private let store: any BillingStore & CustomerStore & InvoiceStore & TransactionalStorage
    private let verifier: StripeSignatureVerifier
    private let policy: SubscriptionPolicy
    private let clock: any TollgateClock
    private let logger: Logger
    private let sync: StripeSubscriptionSync
    /// Grants a paid credit pack: (customer, pack, reference). Idempotent on the reference.
    private let grantPack: @Sendable (String, CreditPack, String) async throws -> Void
    private let client: StripeClient?
    /// Prices the overage Tollgate adds to Stripe's renewal invoices.
    private let invoices: InvoiceService?

    public init(
        catalog: Catalog, store: any BillingStore & CustomerStore & InvoiceStore & TransactionalStorage,
        verifier: StripeSignatureVerifier,
        policy: SubscriptionPolicy = SubscriptionPolicy(),
        clock: any TollgateClock, logger: Logger, client: StripeClient? = nil,
        grantPack: @escaping @Sendable (String, CreditPack, String) async throws -> Void = { _, _, _ in },
        invoices: InvoiceService? = nil
    ) {
        self.client = client
        self.invoices = invoices
        sync = StripeSubscriptionSync(
            catalog: catalog, store: store, policy: policy, client: client)
        self.grantPack = grantPack
        self.catalog = catalog
        self.store = store
        self.verifier = verifier
        self.policy = policy
        self.clock = clock
        self.logger = logger
    }

    public enum Outcome: String, Sendable {
        case applied, duplicate, stale, ignored
    }

    public func handle(payload: Data, signature: String?) async throws -> Outcome {
        let now = clock.now()
        do {
            try verifier.verify(payload: payload, header: signature, now: now)
        } catch .noSecretConfigured {
            throw DomainError(.unavailable, "no Stripe webhook secret is configured (STRIPE_WEBHOOK_SECRET)")
        } catch {
            throw DomainError(
                .invalidSignature, "the Stripe-Signature header does not verify (\(error))", field: "Stripe-Signature")
        }
        guard let event = try? JSONSerialization.jsonObject(with: payload) as? [String: Any],
            let id = event["id"] as? String, let type = event["type"] as? String,
            let object = (event["data"] as? [String: Any])?["object"] as? [String: Any]
        else {
            throw DomainError(.invalidJSON, "not a Stripe event")
        }
        let created = stripeDate(event["created"]) ?? now
        if type.hasPrefix("invoice."), object["object"] as? String == "invoice" || object["object"] == nil {
            let mirrored = try await mirror(object, version: created)
            if mirrored, !Self.subscriptionInvoiceTypes.contains(type), type != "invoice.created" {
                return try await store.recordEvent(
                    provider: PaymentProviderKind.stripe.rawValue, eventId: id, type: type, now: now)
                    ? .applied : .duplicate
            }
        }
        switch type {
        case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
            guard let stripe = StripeSubscription(json: object) else {
                throw DomainError(.invalidJSON, "the event carries no subscription")
            }
            guard
                let subscription = try await sync.subscription(
                    from: stripe, deleted: type.hasSuffix(".deleted"), at: created)
            else {
                let prices = stripe.items.map { $0.priceKey ?? "?" }.joined(separator: ", ")
                return try await ignore(
                    id, type, now, reason: "no price of [\(prices)] maps to a plan of catalog \(catalog.product)")
            }
            return try await apply(id, type, version: created, subscription, now: now)
        case _ where Self.subscriptionInvoiceTypes.contains(type):
            // A one-off invoice moves no subscription: mirrored above, that is all.
            guard let subscriptionId = object["subscription"] as? String else {
                return try await store.recordEvent(
                    provider: PaymentProviderKind.stripe.rawValue, eventId: id, type: type, now: now)
                    ? .applied : .duplicate
            }
            guard let stored = try await store.subscription(id: subscriptionId) else {
                // The subscription's own event may not have arrived yet: ask Stripe to retry.
                throw DomainError(.unavailable, "invoice for a subscription not known yet; retry later")
            }
            // The subscription line carries the period paid for; one-off items carry their own date.
            let lines = ((object["lines"] as? [String: Any])?["data"] as? [[String: Any]]) ?? []
            let period = lines.first { ($0["type"] as? String) == "subscription" }?["period"] as? [String: Any]
            let machineEvent: SubscriptionEvent =
                type != "invoice.payment_failed"
                ? .paymentSucceeded(
                    periodStart: stripeDate(period?["start"]) ?? stored.currentPeriodStart,
                    periodEnd: stripeDate(period?["end"]) ?? stored.currentPeriodEnd)
                : .paymentFailed(at: created)
            let (next, _) = try SubscriptionMachine.apply(machineEvent, to: stored, catalog: catalog, policy: policy)
            return try await apply(id, type, version: created, next, now: now)
        case "invoice.created":
            return try await addOverage(to: object, eventId: id, type: type, now: now)
        case "checkout.session.completed":
            let metadata = (object["metadata"] as? [String: String]) ?? [:]
            let ours = (object["client_reference_id"] as? String) ?? metadata["tollgate_customer"]
            if let customer = object["customer"] as? String, let ours {
                try await store.linkProviderCustomer(
                    provider: PaymentProviderKind.stripe.rawValue, providerCustomerId: customer, customerId: ours)
            }
            // A paid credit pack: granted under the session's id, so a second delivery (or a
            // retry after a failure) never grants twice.
            if let packId = metadata["tollgate_credit_pack"], let ours, object["payment_status"] as? String == "paid",
                let session = object["id"] as? String
            {
                guard let pack = catalog.creditPacks.first(where: { $0.id == packId }) else {
                    return try await ignore(
                        id, type, now, reason: "credit pack \(packId) is not in catalog \(catalog.product)")
                }
                try await grantPack(ours, pack, "stripe:\(session)")
            }
            return try await store.recordEvent(
                provider: PaymentProviderKind.stripe.rawValue, eventId: id, type: type, now: now)
                ? .applied : .duplicate
        default:
            return try await ignore(id, type, now, reason: nil)
        }
    }

    /// A renewal invoice is a draft for about an hour: the ended period's overage goes onto it
    /// as invoice items, each once (Stripe's idempotency key per invoice and feature).
    private func addOverage(to invoice: [String: Any], eventId: String, type: String, now: Date) async throws -> Outcome
    {
        guard invoice["status"] as? String == "draft", invoice["billing_reason"] as? String == "subscription_cycle",
            let invoiceId = invoice["id"] as? String, let customer = invoice["customer"] as? String,
            let subscriptionId = invoice["subscription"] as? String, let client, let invoices
        else {
            return try await ignore(eventId, type, now, reason: nil)
        }
        // A delivery seen before adds nothing (the event is recorded only once every item is in).
        if try await store.hasEvent(provider: PaymentProviderKind.stripe.rawValue, eventId: eventId) {
            return .duplicate
        }
        guard let stored = try await store.subscription(id: subscriptionId) else {
            throw DomainError(.unavailable, "invoice for a subscription not known yet; retry later")
        }
        // A renewal invoice's period is the one that ended: its usage is what is billed.
        let periodStart = stripeDate(invoice["period_start"]) ?? stored.currentPeriodStart
        for line in try await invoices.overageLines(subject: stored.subject, at: periodStart, currency: stored.currency)
        {
            do {
                try await client.createInvoiceItem(
                    customer: customer, invoice: invoiceId, amount: line.amount, currency: stored.currency,
                    description: line.description,
                    idempotencyKey: "tollgate-overage-\(invoiceId)-\(line.feature ?? "usage")"
                )
            } catch {
                throw DomainError(.unavailable, "Stripe refused the overage invoice item: \(error)")
            }
        }
        return try await store.recordEvent(
            provider: PaymentProviderKind.stripe.rawValue, eventId: eventId, type: type, now: now)
            ? .applied : .duplicate
    }

    /// Invoice events that also move the subscription they bill.
    static let subscriptionInvoiceTypes: Set<String> = [
        "invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed",
    ]

    /// Keeps the mirror of Stripe's invoice (`StripeInvoiceMirror`); false when it is not one to
    /// keep, or of a customer Tollgate does not know. Its customer is found by the link Tollgate
    /// keeps, or by its subscription.
    private func mirror(_ object: [String: Any], version: Date) async throws -> Bool {
        var subject: String?
        // A customer Stripe cannot tell about now is found through the subscription instead; the
        // mirror is a convenience, never a reason to refuse the event.
        if let customer = object["customer"] as? String {
            subject = try? await sync.customerId(forStripeCustomer: customer)
        }
        if subject == nil, let subscription = object["subscription"] as? String {
            subject = try await store.subscription(id: subscription)?.subject
        }
        // Not a customer of Tollgate (yet): the subscription's events decide whether that matters.
        guard let subject, try await store.customer(id: subject) != nil else { return false }
        guard let record = StripeInvoiceMirror.record(object, subject: subject) else { return false }
        _ = try await store.mirrorInvoice(record, version: version)
        return true
    }

    private func ignore(_ id: String, _ type: String, _ now: Date, reason: String?) async throws -> Outcome {
        if let reason { logger.warning("Stripe event \(id) (\(type)) ignored: \(reason)") }
        return try await store.recordEvent(
            provider: PaymentProviderKind.stripe.rawValue, eventId: id, type: type, now: now)
            ? .ignored : .duplicate
    }

    private func apply(_ id: String, _ type: String, version: Date, _ subscription: Subscription, now: Date)
        async throws -> Outcome
    {
        switch try await sync.apply(id, type, version: version, subscription, now: now) {
        case .applied: return .applied
        case .duplicate: return .duplicate
        case .stale: return .stale
        }
    }
}
