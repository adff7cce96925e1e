import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    static let outboxColumns = """
        id, kind, recipient, payload, created_at_ms, delivered_at_ms, attempts, last_error, next_attempt_at_ms,
        failed_at_ms
        """

    public func enqueueOutbox(_ messages: [OutboxMessage]) async throws {
        try await provider.transaction { db in try await Self.enqueue(db, messages) }
    }

    public func claimOutbox(node: String, lane: OutboxLane, now: Date, limit: Int, leaseMillis: Int64) async throws
        -> [OutboxEntry]
    {
        let millis = Millis.from(now)
        // PostgreSQL: rows another node is claiming right now are skipped, not waited for.
        // SQLite: one writer at a time already makes the claim exclusive.
        let skipLocked = provider.kind == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        let due: SQLQueryString = """
            delivered_at_ms IS NULL AND failed_at_ms IS NULL
                AND COALESCE(next_attempt_at_ms, 0) <= \(bind: millis)
                AND COALESCE(claimed_until_ms, 0) <= \(bind: millis)
            """
        let chosen: SQLQueryString
        switch lane {
        case .mail:
            let urgent = OutboxLane.transactionalMail.map { "'\($0)'" }.joined(separator: ", ")
            chosen = """
                SELECT id FROM outbox WHERE kind <> \(bind: OutboxKind.webhook) AND \(due)
                ORDER BY CASE WHEN kind IN (\(unsafeRaw: urgent)) THEN 0 ELSE 1 END, created_at_ms, id
                LIMIT \(bind: limit)\(unsafeRaw: skipLocked)
                """
        case .webhooks(let perRecipient):
            // Each endpoint's oldest due messages, up to its share less what it has in flight (a
            // live claim); then the oldest of those. PostgreSQL locks the rows in a second select
            // (FOR UPDATE cannot sit beside a window).
            let ranked: SQLQueryString = """
                SELECT id, created_at_ms FROM (
                    SELECT id, created_at_ms, recipient,
                        ROW_NUMBER() OVER (PARTITION BY recipient ORDER BY created_at_ms, id) AS place
                    FROM outbox WHERE kind = \(bind: OutboxKind.webhook) AND \(due)) AS queue
                WHERE place + (
                    SELECT COUNT(*) FROM outbox flying
                    WHERE flying.recipient = queue.recipient AND flying.kind = \(bind: OutboxKind.webhook)
                        AND flying.delivered_at_ms IS NULL AND flying.failed_at_ms IS NULL
                        AND flying.claimed_until_ms > \(bind: millis)) <= \(bind: perRecipient)
                ORDER BY created_at_ms, id LIMIT \(bind: limit)
                """
            let fair: SQLQueryString = "SELECT id FROM (\(ranked)) AS fair"
            chosen =
                provider.kind == .postgres
                ? "SELECT id FROM outbox WHERE id IN (\(fair)) AND \(due) FOR UPDATE SKIP LOCKED" : fair
        }
        return try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE outbox SET claimed_by = \(bind: node), claimed_until_ms = \(bind: millis + leaseMillis),
                    attempts = attempts + 1
                WHERE id IN (\(chosen))
                RETURNING \(unsafeRaw: Self.outboxColumns)
                """
            ).all().map(Self.decodeOutboxEntry).sorted { $0.message.createdAt < $1.message.createdAt }
        }
    }

    public func markOutboxDelivered(id: String, at date: Date) async throws {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE outbox SET delivered_at_ms = \(bind: Millis.from(date)),
                    payload = CASE WHEN kind LIKE 'email.%' THEN '{}' ELSE payload END, last_error = NULL,
                    claimed_by = NULL, claimed_until_ms = NULL
                WHERE id = \(bind: id)
                """
            ).run()
        }
    }

    public func markOutboxFailed(id: String, error: String, retryAt: Date?, at date: Date) async throws {
        let failedAt: Int64? = retryAt == nil ? Millis.from(date) : nil
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE outbox SET last_error = \(bind: String(error.prefix(1000))),
                    next_attempt_at_ms = \(bind: retryAt.map(Millis.from)), failed_at_ms = \(bind: failedAt),
                    claimed_by = NULL, claimed_until_ms = NULL
                WHERE id = \(bind: id)
                """
            ).run()
        }
    }

    public func outboxEntries(failedOnly: Bool, limit: Int) async throws -> [OutboxEntry] {
        let filter = failedOnly ? "failed_at_ms IS NOT NULL" : "delivered_at_ms IS NULL"
        return try await provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.outboxColumns) FROM outbox WHERE \(unsafeRaw: filter)
                ORDER BY created_at_ms DESC, id DESC LIMIT \(bind: limit)
                """
            ).all().map(Self.decodeOutboxEntry)
        }
    }

    public func deliveries(_ query: DeliveryQuery) async throws -> [OutboxEntry] {
        var conditions: [SQLQueryString] = []
        switch query.channel {
        case .email?: conditions.append("kind LIKE 'email.%'")
        case .webhook?: conditions.append("kind = \(bind: OutboxKind.webhook)")
        case .event?: conditions.append("kind LIKE 'event.%'")
        // Every e-mail and webhook message, and the events whose fan-out has not happened yet (a
        // fanned-out event is its messages).
        case nil: conditions.append("(kind NOT LIKE 'event.%' OR delivered_at_ms IS NULL)")
        }
        switch query.state {
        case .failed?: conditions.append("failed_at_ms IS NOT NULL")
        case .pending?: conditions.append("delivered_at_ms IS NULL AND failed_at_ms IS NULL")
        case .delivered?: conditions.append("delivered_at_ms IS NOT NULL")
        case nil: break
        }
        if let recipient = query.recipient { conditions.append("recipient = \(bind: recipient)") }
        if let type = query.eventType {
            // An event's body has sorted keys: `"type"` is its last member.
            let ending = "%\"type\":\"" + Self.likeEscaped(type) + "\"}"
            conditions.append("kind = \(bind: OutboxKind.webhook) AND payload LIKE \(bind: ending) ESCAPE '!'")
        }
        if let after = query.after {
            conditions.append(
                """
                (created_at_ms < \(bind: after.createdAtMillis)
                    OR (created_at_ms = \(bind: after.createdAtMillis) AND id < \(bind: after.id)))
                """)
        }
        let sql: SQLQueryString = """
            SELECT \(unsafeRaw: Self.outboxColumns) FROM outbox WHERE \(conditions.joined(separator: " AND "))
            ORDER BY created_at_ms DESC, id DESC LIMIT \(bind: query.limit)
            """
        return try await provider.read { db in try await db.raw(sql).all().map(Self.decodeOutboxEntry) }
    }

    public func outboxStats() async throws -> OutboxStats {
        try await provider.read { db in
            // The partial index on pending rows (migration 18) keeps this cheap however much was sent.
            let pending = try await db.raw(
                """
                SELECT kind, COUNT(*) AS waiting, MIN(created_at_ms) AS oldest FROM outbox
                WHERE delivered_at_ms IS NULL AND failed_at_ms IS NULL GROUP BY kind
                """
            ).all()
            var byPrefix: [String: Int] = [:]
            var oldest: Int64?
            for row in pending {
                let kind = try row.decode(column: "kind", as: String.self)
                let prefix = String(kind.prefix { $0 != "." })
                byPrefix[prefix, default: 0] += Int(try row.decode(column: "waiting", as: Int64.self))
                let first = try row.decode(column: "oldest", as: Int64.self)
                oldest = min(oldest ?? first, first)
            }
            let failed =
                try await db.raw("SELECT COUNT(*) AS failed FROM outbox WHERE failed_at_ms IS NOT NULL")
                .first()?.decode(column: "failed", as: Int64.self) ?? 0
            return OutboxStats(pending: byPrefix, failed: Int(failed), oldestPendingAt: oldest.map(Millis.date))
        }
    }

    public func retryOutbox(id: String, at date: Date) async throws -> Bool {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE outbox SET failed_at_ms = NULL, next_attempt_at_ms = \(bind: Millis.from(date)),
                    claimed_by = NULL, claimed_until_ms = NULL
                WHERE id = \(bind: id) AND delivered_at_ms IS NULL
                RETURNING id
                """
            ).first() != nil
        }
    }

    static func decodeOutboxMessage(_ row: any SQLRow) throws -> OutboxMessage {
        OutboxMessage(
            id: try row.decode(column: "id", as: String.self),
            kind: try row.decode(column: "kind", as: String.self),
            recipient: try row.decode(column: "recipient", as: String.self),
            payload: try row.decode(column: "payload", as: String.self),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)),
            deliveredAt: try row.decode(column: "delivered_at_ms", as: Int64?.self).map(Millis.date))
    }

    static func decodeOutboxEntry(_ row: any SQLRow) throws -> OutboxEntry {
        OutboxEntry(
            message: try decodeOutboxMessage(row),
            attempts: Int(try row.decode(column: "attempts", as: Int64.self)),
            lastError: try row.decode(column: "last_error", as: String?.self),
            nextAttemptAt: try row.decode(column: "next_attempt_at_ms", as: Int64?.self).map(Millis.date),
            failedAt: try row.decode(column: "failed_at_ms", as: Int64?.self).map(Millis.date))
    }
}
