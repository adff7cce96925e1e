import Foundation
import Logging
import TollgateCore
import TollgateStorage

/// The manual provider's side of subscriptions (trials, and time passing), for the embedded demo
/// and for customers invoiced by hand. Stripe subscriptions move through webhooks instead; here
/// they are only ever moved when a past-due grace period runs out.
public final class SubscriptionService: Sendable {
    private let catalog: Catalog
    let store: any BillingStore & CustomerStore
    private let policy: SubscriptionPolicy
    private let clock: any TollgateClock
    private let logger: Logger
    private let planChanged: @Sendable (String) -> Void
    /// Issues the manual provider's invoices as periods end; nil: none are issued.
    private let invoices: InvoiceService?

    public init(
        catalog: Catalog, store: any BillingStore & CustomerStore, policy: SubscriptionPolicy = SubscriptionPolicy(),
        clock: any TollgateClock, logger: Logger, invoices: InvoiceService? = nil,
        planChanged: @escaping @Sendable (String) -> Void
    ) {
        self.invoices = invoices
        self.catalog = catalog
        self.store = store
        self.policy = policy
        self.clock = clock
        self.logger = logger
        self.planChanged = planChanged
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
        let outcome = try await store.applySubscriptionEvent(
            provider: "manual", eventId: "trial:\(customerId)", type: "trial.started", version: now,
            subscription: subscription, now: now,
            rules: rules(now: now), syncAddOns: false, charges: []
        )
        guard outcome == .applied else {
            throw DomainError(.conflict, "customer \(customerId) has already had a trial", field: "customer")
        }
        planChanged(customerId)
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
        for (subscription, provider) in try await store.subscriptionsDue(now: now, grace: policy.gracePeriod) {
            // Stripe owns its subscriptions' periods; only our grace policy applies to them here.
            if provider == "stripe" {
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
            if provider == "manual", rolled, billed, let invoices {
                try await invoices.issue(ended: subscription, next: next)
            }
            // No version: time passing is not news from the provider, so a Stripe event delayed
            // past this move (a payment retried by Stripe) still applies after it.
            let outcome = try await store.applySubscriptionEvent(
                provider: provider, eventId: "tick:\(subscription.id):\(Millis.from(now))", type: "subscription.tick",
                version: nil,
                subscription: next, now: now, rules: rules(now: now), syncAddOns: false, charges: []
            )
            if outcome == .applied {
                changed += 1
                planChanged(subscription.subject)
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
    private func apply(_ event: SubscriptionEvent, after invoice: InvoiceRecord, cause: String) async throws -> Bool {
        guard let id = invoice.subscriptionId, let subscription = try await store.subscription(id: id),
            try await store.subscriptions(subject: subscription.subject).contains(where: {
                $0.0.id == id && $0.provider == "manual"
            })
        else { return false }
        if case .paymentSucceeded = event, subscription.status != .pastDue { return false }
        let now = clock.now()
        let (next, _) = try SubscriptionMachine.apply(event, to: subscription, catalog: catalog, policy: policy)
        guard next != subscription else { return false }
        let outcome = try await store.applySubscriptionEvent(
            provider: "manual", eventId: "\(cause):\(invoice.id)", type: "invoice.\(cause)", version: nil,
            subscription: next, now: now, rules: rules(now: now), syncAddOns: false, charges: [])
        guard outcome == .applied else { return false }
        planChanged(subscription.subject)
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
            // A replay after a crash between the change and its invoice: what is pending goes out.
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
        let outcome = try await store.applySubscriptionEvent(
            provider: "manual", eventId: "subscribe:\(id)", type: "subscription.created", version: now,
            subscription: subscription, now: now,
            rules: rules(now: now), syncAddOns: false, charges: first
        )
        planChanged(customerId)
        if !first.isEmpty { await invoiceNow(subscription) }
        return try await store.subscription(id: id) ?? subscription
    }

    /// What a plan change did: the subscription after it, and the prorated charge (negative: a
    /// credit) recorded for the next invoice.
    public struct PlanChange: Sendable {
        public let subscription: Subscription
        public let proration: Money?
        /// A trial ended by the change: the new period, owed in full and invoiced at once.
        public var periodCharge: Money? = nil
    }

    /// What `changePlan` would do now, without doing it: the page that asks before confirming
    /// shows this proration.
    public func previewPlanChange(_ subscription: Subscription, to planId: String) throws -> PlanChange {
        let (next, effects) = try transition(subscription, to: planId, at: clock.now())
        return PlanChange(
            subscription: next, proration: Self.proration(effects), periodCharge: Self.periodCharge(effects))
    }

    private func transition(_ subscription: Subscription, to planId: String, at now: Date) throws
        -> (Subscription, [SubscriptionEffect])
    {
        do {
            return try SubscriptionMachine.apply(
                .changePlan(to: planId, at: now), to: subscription, catalog: catalog, policy: policy)
        } catch {
            throw Self.domainError(error)
        }
    }

    private static func proration(_ effects: [SubscriptionEffect]) -> Money? {
        for case .prorate(let amount, _, _) in effects where amount.amountMinor != 0 { return amount }
        return nil
    }

    private static func periodCharge(_ effects: [SubscriptionEffect]) -> Money? {
        for case .chargePeriod(let amount, _, _, _) in effects { return amount }
        return nil
    }

    /// Changes a manual subscription's plan through the state machine: an upgrade at once, with
    /// the proration recorded as a charge on the next invoice; a downgrade at the period's end.
    public func changePlan(_ subscription: Subscription, to planId: String, idempotencyKey: String) async throws
        -> PlanChange
    {
        let now = clock.now()
        let (next, effects) = try transition(subscription, to: planId, at: now)
        let reference = "proration:\(subscription.id):\(planId):\(idempotencyKey)"
        var charges: [InvoiceItemRecord] = []
        if let amount = Self.proration(effects) {
            charges.append(
                InvoiceItemRecord(
                    id: "ii_" + InvoiceService.randomSuffix(), subject: subscription.subject, kind: "proration",
                    description: "\(catalog.plan(subscription.planId)?.name ?? subscription.planId) → "
                        + "\(catalog.plan(planId)?.name ?? planId), prorated for the rest of the period",
                    amount: amount, reference: reference, createdAt: now))
        }
        let periodCharge = Self.periodCharge(effects)
        if periodCharge != nil {
            // Recorded with the change in one transaction, then invoiced at once: a crash in
            // between leaves it pending, invoiced by a retry or with the next period. Keyed on the
            // trial it ends, so two changes racing out of one trial charge the period once.
            charges += periodCharges(
                next, reference: "period:\(subscription.id):trial:\(Millis.from(subscription.currentPeriodStart))",
                at: now)
        }
        let outcome = try await store.applySubscriptionEvent(
            provider: "manual", eventId: "change:\(subscription.id):\(planId):\(idempotencyKey)",
            type: "subscription.plan_changed", version: now,
            subscription: next, now: now, rules: rules(now: now), syncAddOns: false, charges: charges
        )
        if periodCharge != nil { await invoiceNow(next) }
        if outcome == .applied {
            planChanged(subscription.subject)
            return PlanChange(
                subscription: next, proration: Self.proration(effects), periodCharge: periodCharge)
        }
        // A retry of a change already made: answer with what it did.
        let charge = try await store.pendingInvoiceItems(subject: subscription.subject).first {
            $0.reference == reference
        }
        return PlanChange(
            subscription: try await store.subscription(id: subscription.id) ?? next, proration: charge?.amount)
    }

    /// A period's charges as invoice items: the plan (times its seats) and its add-ons, named
    /// with the period; `reference` makes each unique, so a replay records nothing twice.
    private func periodCharges(_ subscription: Subscription, reference: String, at now: Date) -> [InvoiceItemRecord] {
        let period =
            DayStamp.string(of: subscription.currentPeriodStart) + " – "
            + DayStamp.string(of: subscription.currentPeriodEnd)
        return Invoicing.subscriptionLines(catalog: catalog, subscription: subscription).enumerated().map {
            index, line in
            InvoiceItemRecord(
                id: "ii_" + InvoiceService.randomSuffix(), subject: subscription.subject, kind: line.kind.rawValue,
                description: line.description + ", " + period, quantity: line.quantity, unitAmount: line.unitAmount,
                amount: Money(line.amount, subscription.currency), reference: "\(reference):\(index)", createdAt: now)
        }
    }

    /// Invoices what is pending for the subscription's customer now. The change it follows is
    /// made already: a failure here (no VAT rate, the database gone) is logged, and what is
    /// pending stays for a retry or the next period's invoice.
    private func invoiceNow(_ subscription: Subscription) async {
        guard let invoices else { return }
        do {
            _ = try await invoices.invoicePending(
                customer: subscription.subject, currency: subscription.currency, subscription: subscription.id)
        } catch {
            logger.error("subscription \(subscription.id): its period could not be invoiced now: \(error)")
        }
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
        _ = try await store.applySubscriptionEvent(
            provider: "manual", eventId: "cancel:\(subscription.id):\(Millis.from(now))", type: "subscription.canceled",
            version: now,
            subscription: next, now: now, rules: rules(now: now), syncAddOns: false, charges: []
        )
        planChanged(subscription.subject)
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
        _ = try await store.applySubscriptionEvent(
            provider: "manual", eventId: "resume:\(subscription.id):\(Millis.from(now))", type: "subscription.resumed",
            version: now, subscription: next, now: now, rules: rules(now: now), syncAddOns: false, charges: [])
        planChanged(subscription.subject)
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
        _ = try await store.applySubscriptionEvent(
            provider: "manual", eventId: "trial-extended:\(subscription.id):\(Millis.from(until))",
            type: "subscription.trial_extended", version: now, subscription: next, now: now, rules: rules(now: now),
            syncAddOns: false, charges: [])
        planChanged(subscription.subject)
        return next
    }

    private func rules(now: Date) -> SubscriptionRules {
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
