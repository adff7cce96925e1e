import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    /// The database's own clock for lease expiry, so that nodes' clocks never have to agree.
    func databaseNow(_ db: any SQLDatabase) async throws -> Int64 {
        guard provider.kind == .postgres else { return Millis.from(Date()) }
        let row = try await db.raw("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) AS now_ms")
            .first()
        return try row?.decode(column: "now_ms", as: Int64.self) ?? Millis.from(Date())
    }

    public func acquireLease(
        _ key: CounterKey, period: String, periodEndMillis: Int64?, limit: Int64, node: String, forfeited: Int64,
        inflight: Int64, ttlMillis: Int64,
        amount: @Sendable (_ available: Int64) -> Int64
    ) async throws -> LeaseGrant {
        let lock = provider.kind == .postgres ? " FOR UPDATE" : ""
        return try await provider.transaction { db in
            let now = try await self.databaseNow(db)
            try await db.raw(
                """
                INSERT INTO usage_counters (subject, feature, period_start_ms, period_end_ms, period, used,
                    updated_at_ms)
                VALUES (\(bind: key.subject), \(bind: key.feature), \(bind: key.periodStartMillis),
                    \(bind: periodEndMillis), \(bind: period), 0, \(bind: now))
                ON CONFLICT (subject, feature, period_start_ms) DO NOTHING
                """
            ).run()
            let used =
                try await db.raw(
                    """
                    SELECT used FROM usage_counters
                    WHERE subject = \(bind: key.subject) AND feature = \(bind: key.feature)
                        AND period_start_ms = \(bind: key.periodStartMillis)\(unsafeRaw: lock)
                    """
                ).first()?.decode(column: "used", as: Int64.self) ?? 0
            let others =
                try await db.raw(
                    """
                    SELECT CAST(COALESCE(SUM(outstanding), 0) AS BIGINT) AS held FROM counter_leases
                    WHERE subject = \(bind: key.subject) AND feature = \(bind: key.feature)
                        AND period_start_ms = \(bind: key.periodStartMillis)
                        AND expires_at_ms > \(bind: now) AND node <> \(bind: node)
                    """
                ).first()?.decode(column: "held", as: Int64.self) ?? 0
            // This node's row, less what it gave up since it last asked. The row is read here,
            // under the counter's lock, not computed by the node: a commit that lands while the
            // node asks has already subtracted its units from it.
            let own = try await db.raw(
                """
                SELECT outstanding, expires_at_ms FROM counter_leases
                WHERE subject = \(bind: key.subject) AND feature = \(bind: key.feature)
                    AND period_start_ms = \(bind: key.periodStartMillis) AND node = \(bind: node)
                """
            ).first()
            let mine: Int64
            if let own, try own.decode(column: "expires_at_ms", as: Int64.self) > now {
                mine = max(0, try own.decode(column: "outstanding", as: Int64.self) - forfeited)
            } else {
                // Lapsed (or never granted): the unused units went back to the pool at the expiry.
                mine = max(0, inflight)
            }
            let available = max(0, limit - used - others - mine)
            let granted = min(available, max(0, amount(available)))
            try await db.raw(
                """
                INSERT INTO counter_leases (subject, feature, period_start_ms, node, outstanding, expires_at_ms)
                VALUES (\(bind: key.subject), \(bind: key.feature), \(bind: key.periodStartMillis), \(bind: node),
                    \(bind: mine + granted), \(bind: now + ttlMillis))
                ON CONFLICT (subject, feature, period_start_ms, node)
                DO UPDATE SET outstanding = excluded.outstanding, expires_at_ms = excluded.expires_at_ms
                """
            ).run()
            return LeaseGrant(granted: granted, used: used)
        }
    }

    public func recordRefusal(_ record: IdempotencyRecord, until: Date) async throws -> Bool {
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, response, created_at_ms,
                    expires_at_ms)
                VALUES (\(bind: record.scope), \(bind: record.key), \(bind: record.fingerprint),
                    \(bind: record.response), \(bind: Millis.from(record.createdAt)), \(bind: Millis.from(until)))
                ON CONFLICT (scope, idempotency_key) DO UPDATE SET fingerprint = excluded.fingerprint,
                    response = excluded.response, created_at_ms = excluded.created_at_ms,
                    expires_at_ms = excluded.expires_at_ms
                WHERE idempotency_keys.expires_at_ms IS NOT NULL
                    AND idempotency_keys.expires_at_ms <= excluded.created_at_ms
                RETURNING scope
                """
            ).first() != nil
        }
    }

    public func releaseLeases(node: String) async throws {
        try await provider.transaction { db in
            try await db.raw("DELETE FROM counter_leases WHERE node = \(bind: node)").run()
        }
    }
}
