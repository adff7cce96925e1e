import Foundation
import Logging
import SQLKit
import TollgateCore
import TollgateStorage

/// The usage counters (UsageStore): their values, commits and idempotency records.
extension SQLStore {
    public func counterValue(_ key: CounterKey) async throws -> Int64 {
        try await provider.read { db in
            let row = try await db.raw(
                """
                SELECT used FROM usage_counters
                WHERE subject = \(bind: key.subject) AND feature = \(bind: key.feature)
                    AND period_start_ms = \(bind: key.periodStartMillis)
                """
            ).first()
            return try row?.decode(column: "used", as: Int64.self) ?? 0
        }
    }

    @discardableResult
    public func commit(_ batch: UsageBatch) async throws -> [Bool] {
        try await provider.usageWriter.commit(batch)
    }

    public func idempotencyRecord(scope: String, key: String) async throws -> IdempotencyRecord? {
        try await provider.read { db in
            guard
                let row = try await db.raw(
                    """
                    SELECT fingerprint, response, created_at_ms FROM idempotency_keys
                    WHERE scope = \(bind: scope) AND idempotency_key = \(bind: key)
                    """
                ).first()
            else { return nil }
            return IdempotencyRecord(
                scope: scope, key: key,
                fingerprint: try row.decode(column: "fingerprint", as: String.self),
                response: try row.decode(column: "response", as: String.self),
                createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self))
            )
        }
    }

    public func purgeIdempotencyRecords(createdBefore cutoff: Date, limit: Int) async throws -> Int {
        let cutoff = Millis.from(cutoff)
        switch provider.kind {
        case .sqlite:
            // Rows are appended in rowid order, so the oldest come first; the scan stops at the
            // first record young enough to keep (no index on the creation time: the meter's
            // inserts stay one index write each).
            return try await provider.transaction { db in
                let oldest = try await db.raw(
                    "SELECT rowid AS position, created_at_ms FROM idempotency_keys ORDER BY rowid LIMIT \(bind: limit)"
                ).all()
                var last: Int64?
                for row in oldest {
                    guard try row.decode(column: "created_at_ms", as: Int64.self) < cutoff else { break }
                    last = try row.decode(column: "position", as: Int64.self)
                }
                guard let last else { return 0 }
                let deleted = try await db.raw(
                    """
                    DELETE FROM idempotency_keys WHERE rowid <= \(bind: last) AND created_at_ms < \(bind: cutoff) \
                    RETURNING 1 AS gone
                    """
                ).all()
                return deleted.count
            }
        case .postgres:
            // A BRIN index on the creation time (migration 15) finds the old rows cheaply.
            return try await provider.transaction { db in
                try await db.raw(
                    """
                    DELETE FROM idempotency_keys WHERE ctid IN (
                        SELECT ctid FROM idempotency_keys WHERE created_at_ms < \(bind: cutoff) LIMIT \(bind: limit))
                    RETURNING 1 AS gone
                    """
                ).all().count
            }
        }
    }

    public func usageHistory(subject: String, from: Date, to: Date) async throws -> [UsageRow] {
        try await provider.read { db in
            let rows = try await db.raw(
                """
                SELECT feature, period, period_start_ms, period_end_ms, used FROM usage_counters
                WHERE subject = \(bind: subject)
                  AND (period = 'lifetime' OR (period_start_ms >= \(bind: Millis.from(from))
                      AND period_start_ms < \(bind: Millis.from(to))))
                ORDER BY period_start_ms, feature
                """
            ).all()
            return try rows.map { row in
                UsageRow(
                    feature: try row.decode(column: "feature", as: String.self),
                    period: try row.decode(column: "period", as: String.self),
                    periodStart: Millis.date(try row.decode(column: "period_start_ms", as: Int64.self)),
                    periodEnd: try row.decode(column: "period_end_ms", as: Int64?.self).map(Millis.date),
                    used: try row.decode(column: "used", as: Int64.self)
                )
            }
        }
    }
}
