import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    static let subscriptionColumns = """
        id, subject, plan_id, billing_interval, currency, seats, status, current_period_start_ms, current_period_end_ms,
            trial_end_ms,
        cancel_at_period_end, canceled_at_ms, past_due_since_ms, pending_plan_id, has_payment_method, add_ons
        """

    public func subscriptionVersion(id: String) async throws -> StoredSubscriptionVersion? {
        try await self.provider.read { db in
            try await db.raw(
                "SELECT version_ms, status, updated_at_ms FROM subscriptions WHERE id = \(bind: id)"
            ).first().map { row in
                StoredSubscriptionVersion(
                    version: try row.decode(column: "version_ms", as: Int64.self),
                    status: SubscriptionStatus(rawValue: try row.decode(column: "status", as: String.self)),
                    updatedAt: try row.decode(column: "updated_at_ms", as: Int64.self))
            }
        }
    }

    public func putSubscription(_ subscription: Subscription, provider: String, version: Int64, changedAt: Int64)
        async throws
    {
        let addOns = String(decoding: try JSONEncoder().encode(subscription.addOns), as: UTF8.self)
        try await self.provider.transaction { db in
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
                    \(bind: subscription.hasPaymentMethod ? 1 : 0), \(bind: addOns), \(bind: version),
                        \(bind: changedAt))
                """
            ).run()
        }
    }

    public func recordTrial(_ subscription: Subscription, previousStatus: SubscriptionStatus?, at millis: Int64)
        async throws
    {
        try await self.provider.transaction { db in
            try await Self.recordTrial(db, subscription, previousStatus: previousStatus, at: millis)
        }
    }

    public func recordRevenueMovements(
        subject: String, from before: [Currency: Int64], to after: [Currency: Int64], plan: String, cause: String,
        at date: Date
    ) async throws {
        try await self.provider.transaction { db in
            try await Self.recordRevenueMovements(
                db, subject: subject, from: before, to: after, plan: plan, cause: cause, at: date)
        }
    }

    public func entitle(
        subject: String, plan: String, anchor: Date, status: CustomerStatus, addOns: [String: Int]?, at now: Date
    ) async throws -> Int64? {
        try await self.provider.transaction { db in
            let changedAt = try await db.raw(
                """
                UPDATE customers SET plan_id = \(bind: plan),
                    billing_anchor_ms = CASE WHEN plan_id = \(bind: plan) THEN billing_anchor_ms
                        ELSE \(bind: Millis.from(anchor)) END,
                    \(Self.advancedUpdate(now))
                WHERE id = \(bind: subject)
                RETURNING updated_at_ms
                """
            ).first()?.decode(column: "updated_at_ms", as: Int64.self)
            if let changedAt {
                try await Self.recordCustomerState(
                    db, customerId: subject, at: changedAt, planId: plan, status: status)
            }
            if let addOns {
                let encoded = String(decoding: try JSONEncoder().encode(addOns), as: UTF8.self)
                try await db.raw(
                    """
                    UPDATE customers SET add_ons = \(bind: encoded), \(Self.advancedUpdate(now))
                    WHERE id = \(bind: subject)
                    """
                ).run()
            }
            try await self.announceCustomerChange(db, id: subject)
            return changedAt
        }
    }

    public func addInvoiceItems(_ items: [InvoiceItemRecord]) async throws {
        guard !items.isEmpty else { return }
        try await self.provider.transaction { db in
            for item in items {
                try await db.raw(
                    """
                    INSERT INTO invoice_items (id, subject, kind, description, amount_minor, currency, reference,
                        created_at_ms, position)
                    VALUES (\(bind: item.id), \(bind: item.subject), \(bind: item.kind),
                        \(bind: item.description),
                        \(bind: item.amount.amountMinor), \(bind: item.amount.currency.code),
                            \(bind: item.reference), \(bind: Millis.from(item.createdAt)),
                        \(Self.nextItemPosition(item.subject)))
                    ON CONFLICT (subject, reference) DO NOTHING
                    """
                ).run()
            }
        }
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

    static func insertEvent(_ db: any SQLDatabase, provider: String, eventId: String, type: String, now: Date)
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

    static func decodeSubscription(_ row: any SQLRow) throws -> Subscription {
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
