import Foundation
import Logging
import TollgateCore
import TollgateStorage

/// The manual provider's side of subscriptions (trials, and time passing), for the embedded demo
/// and for customers invoiced by hand. Stripe subscriptions move through webhooks instead; here
/// they are only ever moved when a past-due grace period runs out.
public final class SubscriptionService: Sendable {
    let catalog: Catalog
    let store: any BillingStore & CustomerStore & TransactionalStorage
    let policy: SubscriptionPolicy
    let clock: any TollgateClock
    let logger: Logger
    /// Issues the manual provider's invoices as periods end; nil: none are issued.
    let invoices: InvoiceService?

    public init(
        catalog: Catalog, store: any BillingStore & CustomerStore & TransactionalStorage,
        policy: SubscriptionPolicy = SubscriptionPolicy(),
        clock: any TollgateClock, logger: Logger, invoices: InvoiceService? = nil
    ) {
        self.invoices = invoices
        self.catalog = catalog
        self.store = store
        self.policy = policy
        self.clock = clock
        self.logger = logger
    }

    /// Starts the plan's trial for the customer: once per customer, as the catalog says (Pro: 14
    /// days without a card; Business: none).
    public func startTrial(customerId: String, planId: String, interval: BillingInterval, currency: Currency)
        async throws -> Subscription
    {
        guard try await store.customer(id: customerId) != nil else {
            throw DomainError(.customerNotFound, "no customer with id \(customerId)", field: "customer")
        }
        guard let plan = catalog.plan(planId) else {
            throw DomainError(.planNotFound, "no plan \(planId) in catalog \(catalog.product)", field: "plan")
        }
        guard plan.trial != nil else { throw DomainError.invalidField("plan", "plan \(planId) has no trial") }
        let now = clock.now()
        let subscription: Subscription
        do {
            subscription = try SubscriptionMachine.start(
                id: "sub_manual_" + UUID().uuidString.lowercased().prefix(16), subject: customerId, plan: plan,
                interval: interval, currency: currency,
                seats: nil, at: now, hasPaymentMethod: false, alreadyTrialed: false
            )
        } catch {
            throw Self.domainError(error)
        }
        // Once per customer, whichever provider gave the first; the event id is the customer's, so
        // a second trial started meanwhile is a duplicate, refused atomically.
        guard try await trialOffered(plan, to: customerId) != nil else {
            throw DomainError(.conflict, "customer \(customerId) has already had a trial", field: "customer")
        }
        let outcome = try await applyManual(
            "subscription.trial_started", eventId: "trial:\(customerId)", type: "trial.started", before: nil,
            next: subscription, now: now)
        guard outcome == .applied else {
            throw DomainError(.conflict, "customer \(customerId) has already had a trial", field: "customer")
        }
        return subscription
    }

    /// Tells `subscription.trial_will_end` for every trial ending within its plan's reminder days
    /// (catalog `trial.reminderDays`, default 3).
    func remindTrialsEnding(now: Date) async throws {
        let longest = catalog.plans.compactMap { $0.trial?.reminderDays }.max() ?? 0
        guard longest > 0 else { return }
        let reminders = try await store.trialsEnding(after: now, before: now + TimeInterval(longest) * 86_400)
            .filter { subscription in
                guard let end = subscription.trialEnd,
                    let days = catalog.plan(subscription.planId)?.trial?.reminderDays
                else { return false }
                return end <= now + TimeInterval(days) * 86_400
            }
            .map { try SubscriptionChangeEvents.trialReminder($0, at: now) }
        try await store.recordEvents(reminders)
    }

    /// Moves every subscription whose deadline has passed; returns how many changed.
    @discardableResult
    public func tick() async throws -> Int {
        let now = clock.now()
        try await remindTrialsEnding(now: now)
        var changed = 0
        for (subscription, name) in try await store.subscriptionsDue(now: now, grace: policy.gracePeriod) {
            guard let provider = PaymentProviderKind(rawValue: name) else {
                logger.warning("subscription \(subscription.id) is run by \(name), a provider not handled here")
                continue
            }
            // Stripe owns its subscriptions' periods; only our grace policy applies to them here.
            if provider == .stripe {
                guard subscription.status == .pastDue, let since = subscription.pastDueSince,
                    now >= since + policy.gracePeriod
                else { continue }
            }
            let (next, _) = try SubscriptionMachine.apply(
                .tick(now), to: subscription, catalog: catalog, policy: policy)
            guard next != subscription else { continue }
            // A manual subscription's period ended: Tollgate issues its invoice (once per period)
            // before moving it on, so a crash in between only issues it on the next pass.
            let rolled =
                next.currentPeriodStart > subscription.currentPeriodStart
                || (subscription.cancelAtPeriodEnd && next.status == .canceled)
            // A trial that ends with a payment method starts its first paid period the same way.
            let billed =
                [.active, .pastDue].contains(subscription.status)
                || (subscription.status == .trialing && next.status == .active)
            if provider == .manual, rolled, billed, let invoices {
                try await invoices.issue(ended: subscription, next: next)
            }
            // No version: time passing is not news from the provider, so a Stripe event delayed
            // past this move (a payment retried by Stripe) still applies after it.
            let news = SubscriptionNews(
                provider: provider, eventId: "tick:\(subscription.id):\(Millis.from(now))", type: "subscription.tick",
                version: nil,
                subscription: next, now: now)
            let outcome = try await ledger(news)
            if outcome == .applied {
                changed += 1
                logger.info(
                    """
                    subscription \(subscription.id) moved from \(subscription.status.rawValue) to \
                    \(next.status.rawValue)
                    """
                )
            }
        }
        if let invoices {
            for invoice in try await invoices.remindOverdue() {
                changed += try await apply(.paymentFailed(at: now), after: invoice, cause: "dunning") ? 1 : 0
            }
        }
        return changed
    }

    /// Marks one of Tollgate's invoices paid and, in the same transaction, makes the subscription
    /// it settles current again (`invoicePaid`).
    public func payInvoice(_ id: String, invoices: InvoiceService) async throws -> InvoiceRecord {
        let (catalog, policy, clock, logger) = (catalog, policy, clock, logger)
        let paid = try await invoices.apply(.pay, to: id) { paid, tx in
            // Bound to the payment's transaction.
            let bound = SubscriptionService(catalog: catalog, store: tx, policy: policy, clock: clock, logger: logger)
            try await bound.invoicePaid(paid)
        }
        return paid
    }

    /// An invoice of a manual subscription was paid: a subscription past due because of it is
    /// current again (the grace period stops).
    public func invoicePaid(_ invoice: InvoiceRecord) async throws {
        // A period invoiced when it started (a subscription, a trial ended by a change) names no
        // period of its own: it pays the subscription's current one.
        var period = invoice.periodStart.flatMap { start in invoice.periodEnd.map { (start, $0) } }
        if period == nil, let id = invoice.subscriptionId, let subscription = try await store.subscription(id: id) {
            period = (subscription.currentPeriodStart, subscription.currentPeriodEnd)
        }
        guard let (start, end) = period else { return }
        _ = try await apply(.paymentSucceeded(periodStart: start, periodEnd: end), after: invoice, cause: "paid")
    }

    /// Applies `event` to the manual subscription of `invoice`, once per invoice and cause.
    func apply(_ event: SubscriptionEvent, after invoice: InvoiceRecord, cause: String) async throws -> Bool {
        guard let id = invoice.subscriptionId, let subscription = try await store.subscription(id: id),
            try await store.subscriptions(subject: subscription.subject).contains(where: {
                $0.0.id == id && PaymentProviderKind(rawValue: $0.provider) == .manual
            })
        else { return false }
        if case .paymentSucceeded = event, subscription.status != .pastDue { return false }
        let now = clock.now()
        let (next, _) = try SubscriptionMachine.apply(event, to: subscription, catalog: catalog, policy: policy)
        guard next != subscription else { return false }
        let outcome = try await ledger(
            SubscriptionNews(
                provider: .manual, eventId: "\(cause):\(invoice.id)", type: "invoice.\(cause)", version: nil,
                subscription: next, now: now))
        guard outcome == .applied else { return false }
        logger.info("subscription \(id) moved to \(next.status.rawValue) after invoice \(invoice.id) (\(cause))")
        return true
    }

    public func subscriptions(of subject: String) async throws -> [(Subscription, provider: String)] {
        guard try await store.customer(id: subject) != nil else {
            throw DomainError(.customerNotFound, "no customer with id \(subject)", field: "id")
        }
        return try await store.subscriptions(subject: subject)
    }

    /// The subject's newest subscription that still runs (trialing, active or past due), with its provider.
    public func liveSubscription(subject: String) async throws -> (Subscription, provider: String)? {
        try await store.subscriptions(subject: subject).filter { $0.0.isLive }.last
    }

    /// A subscription invoiced by hand (the manual provider, for enterprise customers paying by
    /// transfer): active at once, billed from now. Idempotent on `idempotencyKey`.
    public func subscribe(
        customerId: String, planId: String, interval: BillingInterval, currency: Currency, seats: Int?,
        idempotencyKey: String
    ) async throws -> Subscription {
        guard try await store.customer(id: customerId) != nil else {
            throw DomainError(.customerNotFound, "no customer with id \(customerId)", field: "customer")
        }
        guard let plan = catalog.plan(planId), !plan.isFree else {
            throw DomainError(.planNotFound, "no paid plan \(planId) in catalog \(catalog.product)", field: "plan")
        }
        let id = "sub_manual_\(customerId)_\(idempotencyKey)"
        if let existing = try await store.subscription(id: id) {
            // A replay: nothing to record; after a crash between the change and its invoice, what
            // is pending goes out.
            try await store.transaction { tx in try await Audit.record(.unchanged("subscription.created"), in: tx) }
            await invoiceNow(existing)
            return existing
        }
        if let (live, provider) = try await liveSubscription(subject: customerId) {
            throw DomainError(
                .conflict,
                """
                customer \(customerId) already has a \(live.status.rawValue) \(provider) subscription \(live.id): \
                change its plan instead
                """,
                field: "customer")
        }
        let now = clock.now()
        let subscription: Subscription
        do {
            subscription = try SubscriptionMachine.start(
                id: id, subject: customerId, plan: plan, interval: interval, currency: currency, seats: seats, at: now,
                hasPaymentMethod: true, alreadyTrialed: true
            )
        } catch {
            throw Self.domainError(error)
        }
        // The first period is paid from now, like every later one: recorded with the
        // subscription, invoiced at once.
        let first = periodCharges(subscription, reference: "period:\(id):start", at: now)
        let outcome = try await applyManual(
            "subscription.created", eventId: "subscribe:\(id)", type: "subscription.created", before: nil,
            next: subscription, now: now, charges: first)
        if !first.isEmpty { await invoiceNow(subscription) }
        return try await store.subscription(id: id) ?? subscription
    }

    /// Cancels a manual subscription, now or at the end of its period.
    public func cancel(_ subscription: Subscription, atPeriodEnd: Bool) async throws -> Subscription {
        let now = clock.now()
        let next: Subscription
        do {
            (next, _) = try SubscriptionMachine.apply(
                .cancel(atPeriodEnd: atPeriodEnd, at: now), to: subscription, catalog: catalog, policy: policy)
        } catch {
            throw Self.domainError(error)
        }
        _ = try await applyManual(
            "subscription.canceled", eventId: "cancel:\(subscription.id):\(Millis.from(now))",
            type: "subscription.canceled", before: subscription, next: next, now: now)
        return next
    }

    /// Takes back a cancellation set for the period's end: the subscription renews again.
    public func resume(_ subscription: Subscription) async throws -> Subscription {
        let now = clock.now()
        let next: Subscription
        do {
            (next, _) = try SubscriptionMachine.apply(.resume, to: subscription, catalog: catalog, policy: policy)
        } catch {
            throw Self.domainError(error)
        }
        _ = try await applyManual(
            "subscription.resumed", eventId: "resume:\(subscription.id):\(Millis.from(now))",
            type: "subscription.resumed", before: subscription, next: next, now: now)
        return next
    }

    /// Gives a trialing manual subscription until `until` (an operator's decision).
    public func extendTrial(_ subscription: Subscription, until: Date) async throws -> Subscription {
        let now = clock.now()
        let next: Subscription
        do {
            (next, _) = try SubscriptionMachine.apply(
                .extendTrial(until: until), to: subscription, catalog: catalog, policy: policy)
        } catch {
            throw Self.domainError(error)
        }
        _ = try await applyManual(
            "subscription.trial_extended", eventId: "trial-extended:\(subscription.id):\(Millis.from(until))",
            type: "subscription.trial_extended", before: subscription, next: next, now: now)
        return next
    }

    /// Applies a change of the manual provider and, when it applied (a replay does not), writes its
    /// audit entry — the subscription before and after, against its customer — in the same
    /// transaction.
    func applyManual(
        _ action: String, eventId: String, type: String, before: Subscription?, next: Subscription, now: Date,
        charges: [InvoiceItemRecord] = []
    ) async throws -> WebhookOutcome {
        let rules = rules(now: now)
        var news = SubscriptionNews(
            provider: .manual, eventId: eventId, type: type, version: now, subscription: next, now: now)
        news.charges = charges
        return try await store.transaction { [news] tx in
            let outcome = try await SubscriptionLedger.apply(news, rules: rules, in: tx)
            let change = AuditChange(
                action, target: "customer:\(next.subject)",
                before: before.map { SubscriptionSnapshot($0, provider: PaymentProviderKind.manual.rawValue) },
                after: SubscriptionSnapshot(next, provider: PaymentProviderKind.manual.rawValue))
            try await Audit.record(outcome == .applied ? change : .unchanged(action), in: tx)
            return outcome
        }
    }

    /// Applies `news` in a transaction of its own.
    func ledger(_ news: SubscriptionNews) async throws -> WebhookOutcome {
        let rules = rules(now: news.now)
        return try await store.transaction { tx in try await SubscriptionLedger.apply(news, rules: rules, in: tx) }
    }

    func rules(now: Date) -> SubscriptionRules {
        Self.rules(catalog: catalog, policy: policy, now: now)
    }

    /// The entitled plan and the MRR of a subject's subscriptions, from the catalog.
    static func rules(catalog: Catalog, policy: SubscriptionPolicy, now: Date) -> SubscriptionRules {
        SubscriptionRules(
            entitledPlan: bestEntitledPlan(catalog: catalog, policy: policy, now: now),
            mrr: { Revenue.mrr(of: $0, catalog: catalog) })
    }

    /// The best plan (highest on the ladder) that any of a subject's subscriptions entitles it
    /// to at `now`; the catalog's default when none does.
    static func bestEntitledPlan(catalog: Catalog, policy: SubscriptionPolicy, now: Date)
        -> @Sendable ([Subscription]) -> String
    {
        { subscriptions in
            subscriptions.map {
                SubscriptionMachine.entitledPlan($0, at: now, policy: policy, defaultPlan: catalog.defaultPlanId)
            }
            .compactMap { catalog.plan($0) }.max { $0.order < $1.order }?.id ?? catalog.defaultPlanId
        }
    }

    static func domainError(_ error: SubscriptionError) -> DomainError {
        switch error {
        case .notAllowed(let message): return DomainError(.conflict, message)
        case .unknownPlan(let plan): return DomainError(.planNotFound, "no plan \(plan)", field: "plan")
        case .noPrice(let plan, let interval, let currency):
            return DomainError.invalidField("currency", "plan \(plan) has no \(interval.rawValue)ly \(currency) price")
        case .contactSales(let maximum):
            return DomainError.invalidField("seats", "beyond \(maximum) seats, contact sales")
        }
    }
}
