import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    public func takeRateTokens(key: String, capacity: Int64, wanted: Int64, now: Int64) async throws
        -> (given: Int64, bucket: TokenBucket)
    {
        let lock = provider.kind == .postgres ? " FOR UPDATE" : ""
        return try await provider.transaction { db in
            // A missing row is a full bucket; two nodes creating it at once both insert nothing
            // twice (ON CONFLICT), then both read it under the lock.
            try await db.raw(
                """
                INSERT INTO rate_buckets (key, level, updated_at_ms)
                VALUES (\(bind: key), \(bind: capacity * TokenBucket.unitsPerToken), \(bind: now))
                ON CONFLICT (key) DO NOTHING
                """
            ).run()
            let row = try await db.raw(
                "SELECT level, updated_at_ms FROM rate_buckets WHERE key = \(bind: key)\(unsafeRaw: lock)"
            ).first()
            var bucket = TokenBucket(
                capacity: capacity, level: try row?.decode(column: "level", as: Int64.self) ?? 0,
                updatedAt: try row?.decode(column: "updated_at_ms", as: Int64.self) ?? now)
            let given = bucket.take(wanted, now: now)
            try await db.raw(
                """
                UPDATE rate_buckets SET level = \(bind: bucket.level), updated_at_ms = \(bind: bucket.updatedAt)
                WHERE key = \(bind: key)
                """
            ).run()
            return (given, bucket)
        }
    }

    public func recordAttemptFailure(key: String, at: Date, subject: String?) async throws {
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO attempt_failures (key, at_ms, subject)
                VALUES (\(bind: key), \(bind: Millis.from(at)), \(bind: subject))
                """
            ).run()
        }
    }

    public func attemptFailures(key: String, since: Date) async throws -> [AttemptFailure] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT at_ms, subject FROM attempt_failures
                WHERE key = \(bind: key) AND at_ms > \(bind: Millis.from(since)) ORDER BY at_ms
                """
            ).all().map { row in
                AttemptFailure(
                    at: Millis.date(try row.decode(column: "at_ms", as: Int64.self)),
                    subject: try row.decode(column: "subject", as: String?.self))
            }
        }
    }

    public func clearAttemptFailures(key: String) async throws {
        try await provider.transaction { db in
            try await db.raw("DELETE FROM attempt_failures WHERE key = \(bind: key)").run()
        }
    }

    public func purgeAttemptFailures(before cutoff: Date) async throws -> Int {
        try await provider.transaction { db in
            try await db.raw(
                "DELETE FROM attempt_failures WHERE at_ms < \(bind: Millis.from(cutoff)) RETURNING key"
            ).all().count
        }
    }
}
