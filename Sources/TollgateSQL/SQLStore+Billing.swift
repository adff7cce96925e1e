import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    private static let subscriptionColumns = """
        id, subject, plan_id, billing_interval, currency, seats, status, current_period_start_ms, current_period_end_ms,
            trial_end_ms,
        cancel_at_period_end, canceled_at_ms, past_due_since_ms, pending_plan_id, has_payment_method, add_ons
        """

    public func applySubscriptionEvent(
        provider: String, eventId: String, type: String, version: Date?, subscription: Subscription?,
        now: Date, rules: SubscriptionRules, syncAddOns: Bool, charges: [InvoiceItemRecord]
    ) async throws -> WebhookOutcome {
        let addOns = String(decoding: try JSONEncoder().encode(subscription?.addOns ?? [:]), as: UTF8.self)
        return try await self.provider.transaction { db in
            guard try await Self.insertEvent(db, provider: provider, eventId: eventId, type: type, now: now) else {
                return .duplicate
            }
            guard let subscription else { return .applied }
            // The stored row, if any: its version, its status and when it last changed.
            let previous = try await db.raw(
                "SELECT version_ms, status, updated_at_ms FROM subscriptions WHERE id = \(bind: subscription.id)"
            ).first()
            let storedVersion = try previous?.decode(column: "version_ms", as: Int64.self)
            // Without a version (time passing here, not news from the provider) the stored one stays,
            // so a provider event delayed past it still applies.
            let versionMs = version.map(Millis.from) ?? storedVersion ?? 0
            if let storedVersion, storedVersion > versionMs { return .stale }
            let previousStatus =
                try previous.map {
                    SubscriptionStatus(rawValue: try $0.decode(column: "status", as: String.self))
                } ?? nil
            // Each change gets a later time than the one before, even within a millisecond: events
            // carry it as their version, so a receiver can order them.
            let changedAt = max(
                Millis.from(now), (try previous?.decode(column: "updated_at_ms", as: Int64.self) ?? 0) + 1)
            let previousPlan = try await db.raw(
                "SELECT plan_id FROM customers WHERE id = \(bind: subscription.subject)"
            ).first()?.decode(column: "plan_id", as: String.self)
            let before = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.subscriptionColumns) FROM subscriptions WHERE subject = \
                \(bind: subscription.subject)
                """
            ).all().map(Self.decodeSubscription)
            try await db.raw("DELETE FROM subscriptions WHERE id = \(bind: subscription.id)").run()
            try await db.raw(
                """
                INSERT INTO subscriptions (id, subject, provider, plan_id, billing_interval, currency, seats, status,
                    current_period_start_ms,
                    current_period_end_ms, trial_end_ms, cancel_at_period_end, canceled_at_ms, past_due_since_ms,
                        pending_plan_id,
                    has_payment_method, add_ons, version_ms, updated_at_ms)
                VALUES (\(bind: subscription.id), \(bind: subscription.subject), \(bind: provider),
                    \(bind: subscription.planId),
                    \(bind: subscription.interval.rawValue), \(bind: subscription.currency.code),
                        \(bind: subscription.seats),
                    \(bind: subscription.status.rawValue), \(bind: Millis.from(subscription.currentPeriodStart)),
                    \(bind: Millis.from(subscription.currentPeriodEnd)),
                        \(bind: subscription.trialEnd.map(Millis.from)),
                    \(bind: subscription.cancelAtPeriodEnd ? 1 : 0), \(bind: subscription.canceledAt.map(Millis.from)),
                    \(bind: subscription.pastDueSince.map(Millis.from)), \(bind: subscription.pendingPlanId),
                    \(bind: subscription.hasPaymentMethod ? 1 : 0), \(bind: addOns), \(bind: versionMs),
                        \(bind: changedAt))
                """
            ).run()
            let all = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.subscriptionColumns) FROM subscriptions WHERE subject = \
                \(bind: subscription.subject)
                """
            )
            .all().map(Self.decodeSubscription)
            let plan = rules.entitledPlan(all)
            try await Self.recordTrial(db, subscription, previousStatus: previousStatus, at: changedAt)
            try await Self.recordRevenueMovements(
                db, subject: subscription.subject, from: rules.mrr(before), to: rules.mrr(all), plan: plan,
                cause: "\(provider)\u{1F}\(eventId)", at: Millis.date(changedAt))
            let customerChangedAt =
                try await db.raw(
                    """
                    UPDATE customers SET plan_id = \(bind: plan),
                        billing_anchor_ms = CASE WHEN plan_id = \(bind: plan) THEN billing_anchor_ms
                            ELSE \(bind: Millis.from(subscription.currentPeriodStart)) END,
                        \(Self.advancedUpdate(now))
                    WHERE id = \(bind: subscription.subject)
                    RETURNING updated_at_ms
                    """
                ).first()?.decode(column: "updated_at_ms", as: Int64.self) ?? changedAt
            try await Self.recordCustomerState(
                db, customerId: subscription.subject, at: customerChangedAt, planId: plan,
                status: CustomerStatus.of(all))
            if syncAddOns {
                let live = all.filter(\.isLive)
                let merged = live.reduce(into: [String: Int]()) { result, next in
                    result.merge(next.addOns, uniquingKeysWith: +)
                }
                let encoded = String(decoding: try JSONEncoder().encode(merged), as: UTF8.self)
                try await db.raw(
                    """
                    UPDATE customers SET add_ons = \(bind: encoded), \(Self.advancedUpdate(now))
                    WHERE id = \(bind: subscription.subject)
                    """
                ).run()
            }
            try await self.announceCustomerChange(db, id: subscription.subject)
            try await Self.enqueue(
                db,
                try Self.subscriptionEvents(
                    subscription, previousStatus: previousStatus, plan: plan, previousPlan: previousPlan,
                    planVersion: customerChangedAt, cause: "\(provider)\u{1F}\(eventId)", at: Millis.date(changedAt))
                    // A provider's payment; Tollgate's own invoices tell theirs as they are marked paid.
                    + (provider != "manual" && ["invoice.paid", "invoice.payment_succeeded"].contains(type)
                        ? [
                            try OutboxEvent.message(
                                id: EventIds.derive(provider, eventId, "invoice.paid"), type: "invoice.paid",
                                subject: Subject.customer(subscription.subject),
                                data: InvoicePaidEventData(
                                    customerId: subscription.subject, subscriptionId: subscription.id,
                                    provider: provider, providerEventId: eventId, version: changedAt),
                                at: Millis.date(changedAt))
                        ] : []),
                ignoringDuplicates: true)
            for charge in charges {
                try await db.raw(
                    """
                    INSERT INTO invoice_items (id, subject, kind, description, amount_minor, currency, reference,
                        created_at_ms, position)
                    VALUES (\(bind: charge.id), \(bind: charge.subject), \(bind: charge.kind),
                        \(bind: charge.description),
                        \(bind: charge.amount.amountMinor), \(bind: charge.amount.currency.code),
                            \(bind: charge.reference), \(bind: Millis.from(charge.createdAt)),
                        \(Self.nextItemPosition(charge.subject)))
                    ON CONFLICT (subject, reference) DO NOTHING
                    """
                ).run()
            }
            return .applied
        }
    }

    /// The change of a subject's MRR as movements, one per currency that changed; ids derived
    /// from the cause, so a change applied once records once.
    static func recordRevenueMovements(
        _ db: any SQLDatabase, subject: String, from before: [Currency: Int64], to after: [Currency: Int64],
        plan: String, cause: String, at date: Date
    ) async throws {
        guard before != after else { return }
        let paid = Set(
            try await db.raw("SELECT DISTINCT currency FROM revenue_movements WHERE subject = \(bind: subject)").all()
                .map { try $0.decode(column: "currency", as: String.self) })
        for movement in RevenueMovement.between(before, after, hasPaidBefore: { paid.contains($0.code) }) {
            try await insertRevenueMovement(
                db, id: EventIds.derive("mrr", cause, movement.currency.code), subject: subject, movement, plan: plan,
                at: date)
        }
    }

    /// Writes one movement, once: a second write of its id (the same cause) is ignored.
    static func insertRevenueMovement(
        _ db: any SQLDatabase, id: String, subject: String, _ movement: RevenueMovement, plan: String, at date: Date
    ) async throws {
        let inserted =
            try await db.raw(
                """
                INSERT INTO revenue_movements (id, subject, currency, kind, amount_minor, mrr_before, mrr_after,
                    plan_id, at_ms)
                VALUES (\(bind: id), \(bind: subject), \(bind: movement.currency.code),
                    \(bind: movement.kind.rawValue), \(bind: movement.amount), \(bind: movement.mrrBefore),
                    \(bind: movement.mrrAfter), \(bind: plan), \(bind: Millis.from(date)))
                ON CONFLICT (id) DO NOTHING
                RETURNING id
                """
            ).first() != nil
        guard inserted else { return }
        try await db.raw(
            """
            INSERT INTO revenue_daily (currency, day_ms, kind, amount_minor, movements)
            VALUES (\(bind: movement.currency.code), \(bind: day(Millis.from(date))), \(bind: movement.kind.rawValue),
                \(bind: movement.amount), 1)
            ON CONFLICT (currency, day_ms, kind) DO UPDATE SET
                amount_minor = revenue_daily.amount_minor + excluded.amount_minor,
                movements = revenue_daily.movements + excluded.movements
            """
        ).run()
    }

    /// A trial starts when a subscription becomes trialing and ends when it stops being; it
    /// converted when the subscription went on active (or past due: it was billed).
    static func recordTrial(
        _ db: any SQLDatabase, _ subscription: Subscription, previousStatus: SubscriptionStatus?, at millis: Int64
    ) async throws {
        let currency = subscription.currency.code
        if subscription.status == .trialing, previousStatus != .trialing {
            let started =
                try await db.raw(
                    """
                    INSERT INTO trials (subscription_id, subject, plan_id, currency, started_at_ms)
                    VALUES (\(bind: subscription.id), \(bind: subscription.subject), \(bind: subscription.planId),
                        \(bind: currency), \(bind: millis))
                    ON CONFLICT (subscription_id) DO NOTHING
                    RETURNING subscription_id
                    """
                ).first() != nil
            if started { try await addTrialDay(db, currency: currency, at: millis, started: 1, ended: 0, converted: 0) }
        } else if previousStatus == .trialing, subscription.status != .trialing {
            let converted = [SubscriptionStatus.active, .pastDue].contains(subscription.status) ? 1 : 0
            let ended =
                try await db.raw(
                    """
                    UPDATE trials SET ended_at_ms = \(bind: millis), converted = \(bind: converted)
                    WHERE subscription_id = \(bind: subscription.id) AND ended_at_ms IS NULL
                    RETURNING currency
                    """
                ).first()
            if let ended {
                try await addTrialDay(
                    db, currency: try ended.decode(column: "currency", as: String.self), at: millis, started: 0,
                    ended: 1, converted: converted)
            }
        }
    }

    public func revenueDays(currency: Currency, before: Date) async throws -> [RevenueSeries.DayTotal] {
        try await self.provider.read { db in
            try await db.raw(
                """
                SELECT day_ms, kind, amount_minor, movements FROM revenue_daily
                WHERE currency = \(bind: currency.code) AND day_ms < \(bind: Millis.from(before))
                """
            ).all().map { row in
                guard let kind = MovementKind(rawValue: try row.decode(column: "kind", as: String.self)) else {
                    throw StoreError.invalidConfiguration("an unreadable revenue rollup row")
                }
                return RevenueSeries.DayTotal(
                    day: Millis.date(try row.decode(column: "day_ms", as: Int64.self)), kind: kind,
                    amount: try row.decode(column: "amount_minor", as: Int64.self),
                    count: Int(try row.decode(column: "movements", as: Int64.self)))
            }
        }
    }

    public func trialDays(currency: Currency, before: Date) async throws -> [RevenueSeries.TrialDay] {
        try await self.provider.read { db in
            try await db.raw(
                """
                SELECT day_ms, started, ended, converted FROM trials_daily
                WHERE currency = \(bind: currency.code) AND day_ms < \(bind: Millis.from(before))
                """
            ).all().map { row in
                RevenueSeries.TrialDay(
                    day: Millis.date(try row.decode(column: "day_ms", as: Int64.self)),
                    started: Int(try row.decode(column: "started", as: Int64.self)),
                    ended: Int(try row.decode(column: "ended", as: Int64.self)),
                    converted: Int(try row.decode(column: "converted", as: Int64.self)))
            }
        }
    }

    /// Adds to the trials' daily rollup.
    static func addTrialDay(
        _ db: any SQLDatabase, currency: String, at millis: Int64, started: Int, ended: Int, converted: Int
    ) async throws {
        try await db.raw(
            """
            INSERT INTO trials_daily (currency, day_ms, started, ended, converted)
            VALUES (\(bind: currency), \(bind: day(millis)), \(bind: started), \(bind: ended), \(bind: converted))
            ON CONFLICT (currency, day_ms) DO UPDATE SET started = trials_daily.started + excluded.started,
                ended = trials_daily.ended + excluded.ended, converted = trials_daily.converted + excluded.converted
            """
        ).run()
    }

    public func backfillRevenueMovements(mrr: @Sendable ([Subscription]) -> [Currency: Int64]) async throws -> Int {
        try await self.provider.transaction { db in
            guard try await db.raw("SELECT id FROM revenue_movements LIMIT 1").first() == nil else { return 0 }
            let subscriptions = try await db.raw(
                "SELECT \(unsafeRaw: Self.subscriptionColumns) FROM subscriptions ORDER BY subject, id"
            ).all().map(Self.decodeSubscription)
            var written = 0
            for (subject, owned) in Dictionary(grouping: subscriptions, by: \.subject).sorted(by: { $0.key < $1.key }) {
                let plan =
                    try await db.raw("SELECT plan_id FROM customers WHERE id = \(bind: subject)").first()?
                    .decode(column: "plan_id", as: String.self) ?? ""
                for (currency, amount) in mrr(owned).sorted(by: { $0.key.code < $1.key.code }) where amount > 0 {
                    let since = owned.filter { $0.currency == currency && $0.isLive }.map(\.currentPeriodStart).min()
                    try await Self.insertRevenueMovement(
                        db, id: EventIds.derive("mrr-backfill", subject, currency.code), subject: subject,
                        RevenueMovement(kind: .new, currency: currency, amount: amount, mrrBefore: 0, mrrAfter: amount),
                        plan: plan, at: since ?? Date())
                    written += 1
                }
            }
            return written
        }
    }

    public func revenueMovements(from: Date, to: Date) async throws -> [RevenueMovementRecord] {
        try await self.provider.read { db in
            try await db.raw(
                """
                SELECT id, subject, currency, kind, amount_minor, mrr_before, mrr_after, plan_id, at_ms
                FROM revenue_movements WHERE at_ms >= \(bind: Millis.from(from)) AND at_ms < \(bind: Millis.from(to))
                ORDER BY at_ms, id
                """
            ).all().map { row in
                guard let currency = Currency(try row.decode(column: "currency", as: String.self)),
                    let kind = MovementKind(rawValue: try row.decode(column: "kind", as: String.self))
                else { throw StoreError.invalidConfiguration("an unreadable revenue movement") }
                return RevenueMovementRecord(
                    id: try row.decode(column: "id", as: String.self),
                    subject: try row.decode(column: "subject", as: String.self),
                    movement: RevenueMovement(
                        kind: kind, currency: currency, amount: try row.decode(column: "amount_minor", as: Int64.self),
                        mrrBefore: try row.decode(column: "mrr_before", as: Int64.self),
                        mrrAfter: try row.decode(column: "mrr_after", as: Int64.self)),
                    planId: try row.decode(column: "plan_id", as: String.self),
                    at: Millis.date(try row.decode(column: "at_ms", as: Int64.self)))
            }
        }
    }

    /// What a subscription change tells webhook endpoints (and, through them, the customer's
    /// mail), with ids derived from the provider's event that caused it.
    static func subscriptionEvents(
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

    public func pendingInvoiceItems(subject: String) async throws -> [InvoiceItemRecord] {
        try await self.provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.invoiceItemColumns) FROM invoice_items
                WHERE subject = \(bind: subject) AND invoice_id IS NULL ORDER BY created_at_ms, position, id
                """
            ).all().map(Self.decodeInvoiceItem)
        }
    }

    static let invoiceItemColumns = """
        id, subject, kind, description, quantity, unit_amount_minor, amount_minor, currency, reference, invoice_id,
            created_at_ms
        """

    static func decodeInvoiceItem(_ row: any SQLRow) throws -> InvoiceItemRecord {
        InvoiceItemRecord(
            id: try row.decode(column: "id", as: String.self),
            subject: try row.decode(column: "subject", as: String.self),
            kind: try row.decode(column: "kind", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            quantity: try row.decode(column: "quantity", as: Int64.self),
            unitAmount: try row.decode(column: "unit_amount_minor", as: Int64?.self),
            amount: Money(
                try row.decode(column: "amount_minor", as: Int64.self),
                Currency(try row.decode(column: "currency", as: String.self)) ?? Currency("EUR")!),
            reference: try row.decode(column: "reference", as: String.self),
            invoiceId: try row.decode(column: "invoice_id", as: String?.self),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self))
        )
    }

    public func recordEvent(provider: String, eventId: String, type: String, now: Date) async throws -> Bool {
        try await self.provider.transaction { db in
            try await Self.insertEvent(db, provider: provider, eventId: eventId, type: type, now: now)
        }
    }

    public func hasEvent(provider: String, eventId: String) async throws -> Bool {
        try await self.provider.read { db in
            try await db.raw(
                "SELECT 1 AS one FROM webhook_events WHERE provider = \(bind: provider) AND event_id = \(bind: eventId)"
            ).first() != nil
        }
    }

    public func subscription(id: String) async throws -> Subscription? {
        try await self.provider.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.subscriptionColumns) FROM subscriptions WHERE id = \(bind: id)")
                .first().map(Self.decodeSubscription)
        }
    }

    public func subscriptions(subject: String) async throws -> [(Subscription, provider: String)] {
        try await self.provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.subscriptionColumns), provider FROM subscriptions
                    WHERE subject = \(bind: subject) ORDER BY current_period_start_ms, id
                """
            ).all().map { (try Self.decodeSubscription($0), try $0.decode(column: "provider", as: String.self)) }
        }
    }

    public func subscriptionsDue(now: Date, grace: TimeInterval) async throws -> [(Subscription, provider: String)] {
        let nowMs = Millis.from(now), graceStartMs = Millis.from(now - grace)
        return try await self.provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.subscriptionColumns), provider FROM subscriptions
                WHERE (status = 'trialing' AND trial_end_ms <= \(bind: nowMs))
                   OR (status = 'past_due' AND past_due_since_ms <= \(bind: graceStartMs))
                   OR (status IN ('active', 'past_due') AND current_period_end_ms <= \(bind: nowMs))
                ORDER BY id
                """
            ).all().map { (try Self.decodeSubscription($0), try $0.decode(column: "provider", as: String.self)) }
        }
    }

    public func trialsEnding(after now: Date, before: Date) async throws -> [Subscription] {
        try await self.provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.subscriptionColumns) FROM subscriptions
                WHERE status = 'trialing' AND trial_end_ms > \(bind: Millis.from(now))
                    AND trial_end_ms <= \(bind: Millis.from(before))
                ORDER BY id
                """
            ).all().map(Self.decodeSubscription)
        }
    }

    public func recordEvents(_ events: [OutboxMessage]) async throws {
        guard !events.isEmpty else { return }
        try await self.provider.transaction { db in try await Self.enqueue(db, events, ignoringDuplicates: true) }
    }

    public func linkProviderCustomer(provider: String, providerCustomerId: String, customerId: String) async throws {
        try await self.provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO provider_customers (provider, provider_customer_id, customer_id)
                VALUES (\(bind: provider), \(bind: providerCustomerId), \(bind: customerId))
                ON CONFLICT (provider, provider_customer_id) DO UPDATE SET customer_id = excluded.customer_id
                """
            ).run()
        }
    }

    public func customerId(provider: String, providerCustomerId: String) async throws -> String? {
        try await self.provider.read { db in
            try await db.raw(
                """
                SELECT customer_id FROM provider_customers WHERE provider = \(bind: provider)
                    AND provider_customer_id = \(bind: providerCustomerId)
                """
            ).first()?.decode(column: "customer_id", as: String.self)
        }
    }

    public func providerCustomerId(provider: String, customerId: String) async throws -> String? {
        try await self.provider.read { db in
            try await db.raw(
                """
                SELECT provider_customer_id FROM provider_customers WHERE provider = \(bind: provider)
                    AND customer_id = \(bind: customerId)
                """
            ).first()?.decode(column: "provider_customer_id", as: String.self)
        }
    }

    public func hasHadTrial(subject: String) async throws -> Bool {
        try await self.provider.read { db in
            let manual = try await db.raw(
                """
                SELECT 1 AS one FROM webhook_events WHERE provider = 'manual' AND event_id = \
                \(bind: "trial:\(subject)")
                """
            ).first()
            let provider = try await db.raw(
                "SELECT 1 AS one FROM subscriptions WHERE subject = \(bind: subject) AND trial_end_ms IS NOT NULL"
            ).first()
            return manual != nil || provider != nil
        }
    }

    private static func insertEvent(_ db: any SQLDatabase, provider: String, eventId: String, type: String, now: Date)
        async throws -> Bool
    {
        try await db.raw(
            """
            INSERT INTO webhook_events (provider, event_id, type, received_at_ms) VALUES (\(bind: provider),
                \(bind: eventId), \(bind: type), \(bind: Millis.from(now)))
            ON CONFLICT (provider, event_id) DO NOTHING
            RETURNING event_id
            """
        ).first() != nil
    }

    private static func decodeSubscription(_ row: any SQLRow) throws -> Subscription {
        Subscription(
            id: try row.decode(column: "id", as: String.self),
            subject: try row.decode(column: "subject", as: String.self),
            planId: try row.decode(column: "plan_id", as: String.self),
            interval: BillingInterval(rawValue: try row.decode(column: "billing_interval", as: String.self)) ?? .month,
            currency: Currency(try row.decode(column: "currency", as: String.self)) ?? Currency("EUR")!,
            seats: try row.decode(column: "seats", as: Int?.self),
            status: SubscriptionStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .inactive,
            currentPeriodStart: Millis.date(try row.decode(column: "current_period_start_ms", as: Int64.self)),
            currentPeriodEnd: Millis.date(try row.decode(column: "current_period_end_ms", as: Int64.self)),
            trialEnd: try row.decode(column: "trial_end_ms", as: Int64?.self).map(Millis.date),
            cancelAtPeriodEnd: try row.decode(column: "cancel_at_period_end", as: Int64.self) != 0,
            canceledAt: try row.decode(column: "canceled_at_ms", as: Int64?.self).map(Millis.date),
            pastDueSince: try row.decode(column: "past_due_since_ms", as: Int64?.self).map(Millis.date),
            pendingPlanId: try row.decode(column: "pending_plan_id", as: String?.self),
            hasPaymentMethod: try row.decode(column: "has_payment_method", as: Int64.self) != 0,
            addOns: try JSONDecoder().decode(
                [String: Int].self, from: Data(try row.decode(column: "add_ons", as: String.self).utf8))
        )
    }
}
