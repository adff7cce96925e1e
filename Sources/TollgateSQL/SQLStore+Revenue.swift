import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

/// Revenue movements and trials, recorded with the subscription changes that cause them, and their daily rollups.
extension SQLStore {
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
}
