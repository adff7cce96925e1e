import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    public func withCreditAccount(
        subject: String, creditType: String, claim: IdempotencyClaim?, now: Date,
        _ decide: @Sendable (CreditState) throws -> CreditChange
    ) async throws -> String {
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO credit_accounts (subject, credit_type, balance, overdrawn, last_seq)
                VALUES (\(bind: subject), \(bind: creditType), 0, 0, 0) ON CONFLICT (subject, credit_type) DO NOTHING
                """
            ).run()
            // One writer per account: PostgreSQL locks the row, SQLite's single writer already serializes.
            let lock = self.provider.kind == .postgres ? " FOR UPDATE" : ""
            guard
                let accountRow = try await db.raw(
                    """
                    SELECT balance, overdrawn, last_seq FROM credit_accounts
                    WHERE subject = \(bind: subject) AND credit_type = \(bind: creditType)\(unsafeRaw: lock)
                    """
                ).first()
            else { throw StoreError.invalidConfiguration("credit account vanished") }
            if let claim,
                let stored = try await db.raw(
                    """
                    SELECT fingerprint, response FROM idempotency_keys WHERE scope = \(bind: claim.scope)
                        AND idempotency_key = \(bind: claim.key)
                    """
                ).first()
            {
                guard try stored.decode(column: "fingerprint", as: String.self) == claim.fingerprint else {
                    throw CreditStoreError.idempotencyKeyReused
                }
                return try stored.decode(column: "response", as: String.self)
            }
            var account = Account(
                balance: try accountRow.decode(column: "balance", as: Int64.self),
                overdrawn: try accountRow.decode(column: "overdrawn", as: Int64.self),
                lastSeq: try accountRow.decode(column: "last_seq", as: Int64.self)
            )
            var grants = try await Self.grants(db, subject: subject, creditType: creditType)
            var holds = try await Self.heldReservations(db, subject: subject, creditType: creditType)
            // Holds past their time free themselves; expired grants are written off, dated at expiry.
            for var hold in holds where hold.expiresAt <= now {
                hold.status = .expired
                try await Self.settle(db, hold, at: now)
            }
            holds.removeAll { $0.expiresAt <= now }
            for (grant, lines) in CreditLedger.expire(grants: grants, now: now) {
                try await Self.record(
                    db,
                    LedgerTransaction(reason: .expiry, reference: grant.id, lines: lines, at: grant.expiresAt ?? now),
                    subject: subject, creditType: creditType, account: &account, grants: &grants)
            }
            let state = CreditState(
                subject: subject, creditType: creditType, grants: grants.filter { $0.remaining > 0 },
                overdrawn: account.overdrawn, holds: holds, balance: account.balance
            )
            let change = try decide(state)
            for grant in change.grants {
                try await db.raw(
                    """
                    INSERT INTO credit_grants (id, subject, credit_type, amount, remaining, priority, expires_at_ms,
                        reason, reference, created_at_ms)
                    VALUES (\(bind: grant.id), \(bind: subject), \(bind: creditType), \(bind: grant.amount), 0,
                        \(bind: grant.priority),
                            \(bind: grant.expiresAt.map(Millis.from)), \(bind: grant.reason.rawValue),
                                \(bind: grant.reference), \(bind: Millis.from(now)))
                    """
                ).run()
                grants.append(
                    CreditGrant(
                        id: grant.id, amount: grant.amount, remaining: 0, priority: grant.priority,
                        expiresAt: grant.expiresAt, createdAt: now))
            }
            for transaction in change.transactions {
                try await Self.record(
                    db, transaction, subject: subject, creditType: creditType, account: &account, grants: &grants)
            }
            for reservation in change.newReservations {
                try await db.raw(
                    """
                    INSERT INTO credit_reservations (id, subject, credit_type, amount, status, expires_at_ms,
                        created_at_ms)
                    VALUES (\(bind: reservation.id), \(bind: subject), \(bind: creditType), \(bind: reservation.amount),
                            \(bind: reservation.status.rawValue), \(bind: Millis.from(reservation.expiresAt)),
                                \(bind: Millis.from(reservation.createdAt)))
                    """
                ).run()
            }
            for reservation in change.settledReservations {
                try await Self.settle(db, reservation, at: now)
            }
            try await Self.enqueue(db, change.outbox)
            try await db.raw(
                """
                UPDATE credit_accounts SET balance = \(bind: account.balance), overdrawn = \(bind: account.overdrawn),
                    last_seq = \(bind: account.lastSeq)
                WHERE subject = \(bind: subject) AND credit_type = \(bind: creditType)
                """
            ).run()
            if let claim {
                try await db.raw(
                    """
                    INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, response, created_at_ms)
                    VALUES (\(bind: claim.scope), \(bind: claim.key), \(bind: claim.fingerprint),
                        \(bind: change.response), \(bind: Millis.from(now)))
                    """
                ).run()
            }
            return change.response
        }
    }

    public func creditState(subject: String, creditType: String, now: Date) async throws -> CreditState {
        try await provider.read { db in
            let overdrawn =
                try await db.raw(
                    """
                    SELECT overdrawn FROM credit_accounts WHERE subject = \(bind: subject)
                        AND credit_type = \(bind: creditType)
                    """
                ).first()?.decode(column: "overdrawn", as: Int64.self) ?? 0
            let live = try await Self.grants(db, subject: subject, creditType: creditType).filter {
                $0.isLive(at: now) && $0.remaining > 0
            }
            let holds = try await Self.heldReservations(db, subject: subject, creditType: creditType).filter {
                $0.expiresAt > now
            }
            return CreditState(
                subject: subject, creditType: creditType, grants: live, overdrawn: overdrawn, holds: holds,
                balance: live.reduce(0) { $0 + $1.remaining } - overdrawn
            )
        }
    }

    public func creditTypes(subject: String) async throws -> [String] {
        try await provider.read { db in
            try await db.raw(
                "SELECT credit_type FROM credit_accounts WHERE subject = \(bind: subject) ORDER BY credit_type"
            ).all()
                .map { try $0.decode(column: "credit_type", as: String.self) }
        }
    }

    public func creditHistory(subject: String, creditType: String, before: Int64?, limit: Int) async throws
        -> [CreditHistoryEntry]
    {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT id, seq, delta, balance_after, reason, reference, created_at_ms FROM credit_transactions
                WHERE subject = \(bind: subject) AND credit_type = \(bind: creditType)
                    AND seq < \(bind: before ?? Int64.max)
                ORDER BY seq DESC LIMIT \(literal: limit)
                """
            ).all().map { row in
                CreditHistoryEntry(
                    id: try row.decode(column: "id", as: String.self),
                    seq: try row.decode(column: "seq", as: Int64.self),
                    delta: try row.decode(column: "delta", as: Int64.self),
                    balanceAfter: try row.decode(column: "balance_after", as: Int64.self),
                    reason: try row.decode(column: "reason", as: String.self),
                    reference: try row.decode(column: "reference", as: String?.self),
                    at: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self))
                )
            }
        }
    }

    public func reservation(id: String) async throws -> ReservationRecord? {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT id, subject, credit_type, amount, status, committed_amount, expires_at_ms, created_at_ms
                    FROM credit_reservations WHERE id = \(bind: id)
                """
            ).first().map(Self.decodeReservation)
        }
    }

    public func ledgerSum(subject: String, creditType: String) async throws -> Int64 {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT CAST(COALESCE(SUM(l.amount), 0) AS BIGINT) AS total FROM credit_lines l
                    JOIN credit_transactions t ON t.id = l.transaction_id
                WHERE t.subject = \(bind: subject) AND t.credit_type = \(bind: creditType)
                    AND l.account NOT LIKE 'system:%'
                """
            ).first()?.decode(column: "total", as: Int64.self) ?? 0
        }
    }

    // MARK: Helpers

    struct Account {
        var balance: Int64
        var overdrawn: Int64
        var lastSeq: Int64
    }

    /// Writes one balanced transaction and moves the grants and the overdraft it touches.
    static func record(
        _ db: any SQLDatabase, _ transaction: LedgerTransaction, subject: String, creditType: String,
        account: inout Account, grants: inout [CreditGrant]
    ) async throws {
        guard CreditLedger.isBalanced(transaction.lines) else {
            throw StoreError.invalidConfiguration("unbalanced credit transaction")
        }
        var delta: Int64 = 0
        for line in transaction.lines {
            switch line.account {
            case .grant(let id):
                delta += line.amount
                try await db.raw(
                    "UPDATE credit_grants SET remaining = remaining + \(bind: line.amount) WHERE id = \(bind: id)"
                ).run()
                if let index = grants.firstIndex(where: { $0.id == id }) { grants[index].remaining += line.amount }
            case .overdraft:
                delta += line.amount
                account.overdrawn -= line.amount
            case .system:
                break
            }
        }
        account.lastSeq += 1
        account.balance += delta
        let id = "ctx_" + UUID().uuidString.lowercased()
        try await db.raw(
            """
            INSERT INTO credit_transactions (id, subject, credit_type, seq, delta, balance_after, reason, reference,
                created_at_ms)
            VALUES (\(bind: id), \(bind: subject), \(bind: creditType), \(bind: account.lastSeq), \(bind: delta),
                \(bind: account.balance),
                    \(bind: transaction.reason.rawValue), \(bind: transaction.reference),
                        \(bind: Millis.from(transaction.at)))
            """
        ).run()
        for (number, line) in transaction.lines.enumerated() {
            try await db.raw(
                """
                INSERT INTO credit_lines (transaction_id, line_no, account, amount)
                VALUES (\(bind: id), \(bind: number), \(bind: accountName(line.account)), \(bind: line.amount))
                """
            ).run()
        }
    }

    static func accountName(_ account: LedgerLine.Account) -> String {
        switch account {
        case .grant(let id): return "grant:\(id)"
        case .overdraft: return "overdraft"
        case .system(let reason): return "system:\(reason.rawValue)"
        }
    }

    static func grants(_ db: any SQLDatabase, subject: String, creditType: String) async throws -> [CreditGrant] {
        try await db.raw(
            """
            SELECT id, amount, remaining, priority, expires_at_ms, created_at_ms FROM credit_grants
            WHERE subject = \(bind: subject) AND credit_type = \(bind: creditType) AND remaining > 0
            """
        ).all().map { row in
            CreditGrant(
                id: try row.decode(column: "id", as: String.self),
                amount: try row.decode(column: "amount", as: Int64.self),
                remaining: try row.decode(column: "remaining", as: Int64.self),
                priority: try row.decode(column: "priority", as: Int.self),
                expiresAt: try row.decode(column: "expires_at_ms", as: Int64?.self).map(Millis.date),
                createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self))
            )
        }
    }

    static func heldReservations(_ db: any SQLDatabase, subject: String, creditType: String) async throws
        -> [ReservationRecord]
    {
        try await db.raw(
            """
            SELECT id, subject, credit_type, amount, status, committed_amount, expires_at_ms, created_at_ms
                FROM credit_reservations
            WHERE subject = \(bind: subject) AND credit_type = \(bind: creditType) AND status = 'held'
            """
        ).all().map(decodeReservation)
    }

    static func settle(_ db: any SQLDatabase, _ reservation: ReservationRecord, at: Date) async throws {
        try await db.raw(
            """
            UPDATE credit_reservations SET status = \(bind: reservation.status.rawValue),
                committed_amount = \(bind: reservation.committedAmount),
                   settled_at_ms = \(bind: Millis.from(at))
            WHERE id = \(bind: reservation.id)
            """
        ).run()
    }

    static func decodeReservation(_ row: any SQLRow) throws -> ReservationRecord {
        ReservationRecord(
            id: try row.decode(column: "id", as: String.self),
            subject: try row.decode(column: "subject", as: String.self),
            creditType: try row.decode(column: "credit_type", as: String.self),
            amount: try row.decode(column: "amount", as: Int64.self),
            status: ReservationRecord.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .expired,
            committedAmount: try row.decode(column: "committed_amount", as: Int64?.self),
            expiresAt: Millis.date(try row.decode(column: "expires_at_ms", as: Int64.self)),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self))
        )
    }
}
