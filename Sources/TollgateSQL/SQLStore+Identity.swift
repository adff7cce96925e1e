import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    static let userColumns =
        """
        id, email, password_hash, email_verified_at_ms, totp_secret, totp_enabled_at_ms, totp_last_step, \
        created_at_ms, updated_at_ms
        """
    static let sessionColumns =
        "id, user_id, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms, user_agent, ip"

    public func createUser(
        _ user: UserRecord, customer: CustomerRecord, token: UserTokenRecord?, outbox: [OutboxMessage]
    ) async throws {
        try await provider.transaction { db in
            let inserted = try await db.raw(
                """
                INSERT INTO users (id, email, password_hash, created_at_ms, updated_at_ms)
                VALUES (\(bind: user.id), \(bind: user.email), \(bind: user.passwordHash),
                    \(bind: Millis.from(user.createdAt)), \(bind: Millis.from(user.updatedAt)))
                ON CONFLICT (email) DO NOTHING
                RETURNING id
                """
            ).first()
            guard inserted != nil else { throw IdentityStoreError.emailTaken }
            guard try await Self.insertCustomer(customer, on: db) else { throw IdentityStoreError.customerTaken }
            if let token { try await Self.insertUserToken(db, token) }
            try await Self.enqueue(db, outbox)
        }
    }

    public func user(id: String) async throws -> UserRecord? {
        try await provider.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM users WHERE id = \(bind: id)").first().map(
                Self.decodeUser)
        }
    }

    public func user(email: String) async throws -> UserRecord? {
        try await provider.read { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.userColumns) FROM users WHERE email = \(bind: email.lowercased())"
            ).first().map(Self.decodeUser)
        }
    }

    public func markEmailVerified(userId: String, at: Date, outbox: [OutboxMessage]) async throws {
        try await provider.transaction { db in
            let first =
                try await db.raw(
                    """
                    UPDATE users SET email_verified_at_ms = \(bind: Millis.from(at)),
                        updated_at_ms = \(bind: Millis.from(at))
                    WHERE id = \(bind: userId) AND email_verified_at_ms IS NULL
                    RETURNING id
                    """
                ).first() != nil
            guard first else { return }
            try await Self.clearSecondFactor(db, userId: userId, at: at)
            try await Self.enqueue(db, outbox)
        }
    }

    public func changePassword(userId: String, passwordHash: String, at: Date, keepingSession: String?) async throws {
        try await provider.transaction { db in
            try await Self.setPassword(
                db, userId: userId, passwordHash: passwordHash, at: at, keepingSession: keepingSession)
        }
    }

    public func resetPassword(userId: String, passwordHash: String, at: Date) async throws {
        try await provider.transaction { db in
            try await Self.setPassword(db, userId: userId, passwordHash: passwordHash, at: at, keepingSession: nil)
            // Every other link of the account dies too: an e-mail change begun by whoever held it.
            try await db.raw(
                """
                UPDATE user_tokens SET used_at_ms = \(bind: Millis.from(at))
                WHERE user_id = \(bind: userId) AND used_at_ms IS NULL
                """
            ).run()
            let wasUnverified =
                try await db.raw(
                    """
                    UPDATE users SET email_verified_at_ms = \(bind: Millis.from(at))
                    WHERE id = \(bind: userId) AND email_verified_at_ms IS NULL
                    RETURNING id
                    """
                ).first() != nil
            if wasUnverified { try await Self.clearSecondFactor(db, userId: userId, at: at) }
        }
    }

    /// The new hash; every session but `keepingSession` and every unused reset link end.
    static func setPassword(
        _ db: any SQLDatabase, userId: String, passwordHash: String, at: Date, keepingSession: String?
    ) async throws {
        let millis = Millis.from(at)
        try await db.raw(
            """
            UPDATE users SET password_hash = \(bind: passwordHash), updated_at_ms = \(bind: millis) WHERE id \
            = \(bind: userId)
            """
        ).run()
        try await db.raw(
            """
            UPDATE sessions SET revoked_at_ms = \(bind: millis) WHERE user_id = \(bind: userId) AND \
            revoked_at_ms IS NULL AND id <> \(bind: keepingSession ?? "")
            """
        ).run()
        try await db.raw(
            """
            UPDATE user_tokens SET used_at_ms = \(bind: millis)
            WHERE user_id = \(bind: userId) AND purpose = \(bind: UserTokenPurpose.resetPassword.rawValue)
                AND used_at_ms IS NULL
            """
        ).run()
    }

    static func clearSecondFactor(_ db: any SQLDatabase, userId: String, at: Date) async throws {
        try await db.raw(
            """
            UPDATE users SET totp_secret = NULL, totp_enabled_at_ms = NULL, totp_last_step = NULL,
                updated_at_ms = \(bind: Millis.from(at))
            WHERE id = \(bind: userId)
            """
        ).run()
        try await db.raw("DELETE FROM recovery_codes WHERE user_id = \(bind: userId)").run()
    }

    public func erasePersonalData(
        customerId: String, pseudonym: String, passwordHash: String, attemptKeys: [String], attemptSubjects: [String],
        at: Date
    ) async throws -> ErasureOutcome {
        try await provider.transaction { db in
            let millis = Millis.from(at)
            guard
                try await db.raw("SELECT id FROM customers WHERE id = \(bind: customerId)").first() != nil
            else { return .notFound }
            if let shared = try await db.raw(
                """
                SELECT m.workspace_id AS id FROM workspace_members m
                WHERE m.user_id = \(bind: customerId) AND m.role = 'OWNER' AND EXISTS (
                    SELECT 1 FROM workspace_members o WHERE o.workspace_id = m.workspace_id AND o.user_id <> m.user_id)
                ORDER BY m.workspace_id LIMIT 1
                """
            ).first() {
                return .ownsSharedWorkspace(try shared.decode(column: "id", as: String.self))
            }
            var email = try await db.raw("SELECT email FROM users WHERE id = \(bind: customerId)").first()?
                .decode(column: "email", as: String.self)
            if email == nil {
                email = try await db.raw("SELECT email FROM customers WHERE id = \(bind: customerId)").first()?
                    .decode(column: "email", as: String?.self)
            }
            for statement: SQLQueryString in [
                """
                UPDATE users SET email = \(bind: pseudonym), password_hash = \(bind: passwordHash),
                    email_verified_at_ms = NULL, totp_secret = NULL, totp_enabled_at_ms = NULL, totp_last_step = NULL,
                    updated_at_ms = \(bind: millis)
                WHERE id = \(bind: customerId)
                """,
                """
                UPDATE sessions SET revoked_at_ms = COALESCE(revoked_at_ms, \(bind: millis)), ip = NULL,
                    user_agent = NULL
                WHERE user_id = \(bind: customerId)
                """,
                "DELETE FROM user_tokens WHERE user_id = \(bind: customerId)",
                "DELETE FROM recovery_codes WHERE user_id = \(bind: customerId)",
                "DELETE FROM workspace_members WHERE user_id = \(bind: customerId)",
                """
                DELETE FROM attempt_failures
                WHERE key IN (\(binds: attemptKeys + [""])) OR subject IN (\(binds: attemptSubjects + [""]))
                """,
                """
                UPDATE customers SET email = NULL, name = NULL, locale = NULL, updated_at_ms = \(bind: millis)
                WHERE id = \(bind: customerId)
                """,
            ] {
                try await db.raw(statement).run()
            }
            if let email {
                for statement: SQLQueryString in [
                    "DELETE FROM workspace_invitations WHERE email = \(bind: email)",
                    "DELETE FROM mail_preferences WHERE address = \(bind: email)",
                    """
                    UPDATE outbox SET failed_at_ms = \(bind: millis), last_error = 'recipient erased'
                    WHERE recipient = \(bind: email) AND delivered_at_ms IS NULL AND failed_at_ms IS NULL
                    """,
                    "UPDATE outbox SET recipient = \(bind: pseudonym) WHERE recipient = \(bind: email)",
                    // Events and webhook messages about them carry the address in their bodies.
                    """
                    UPDATE outbox SET payload = REPLACE(payload, \(bind: email), \(bind: pseudonym))
                    WHERE payload <> REPLACE(payload, \(bind: email), \(bind: pseudonym))
                    """,
                    """
                    UPDATE tracked_events SET properties = REPLACE(properties, \(bind: email), \(bind: pseudonym))
                    WHERE customer_id = \(bind: customerId)
                    """,
                ] {
                    try await db.raw(statement).run()
                }
            }
            try await self.announceCustomerChange(db, id: customerId)
            return .erased
        }
    }

    public func setPendingTOTP(userId: String, sealedSecret: String, at: Date) async throws {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE users SET totp_secret = \(bind: sealedSecret), totp_enabled_at_ms = NULL, totp_last_step = NULL,
                    updated_at_ms = \(bind: Millis.from(at))
                WHERE id = \(bind: userId)
                """
            ).run()
        }
    }

    public func enableTOTP(
        userId: String, step: Int64, recoveryCodeHashes: [String], at: Date, outbox: [OutboxMessage]
    ) async throws {
        try await provider.transaction { db in
            try await Self.enqueue(db, outbox)
            let millis = Millis.from(at)
            try await db.raw(
                """
                UPDATE users SET totp_enabled_at_ms = \(bind: millis), totp_last_step = \(bind: step),
                    updated_at_ms = \(bind: millis)
                WHERE id = \(bind: userId)
                """
            ).run()
            try await db.raw("DELETE FROM recovery_codes WHERE user_id = \(bind: userId)").run()
            for hash in recoveryCodeHashes {
                try await db.raw(
                    "INSERT INTO recovery_codes (user_id, code_hash) VALUES (\(bind: userId), \(bind: hash))"
                ).run()
            }
        }
    }

    public func disableTOTP(userId: String, at: Date, outbox: [OutboxMessage]) async throws {
        try await provider.transaction { db in
            try await Self.enqueue(db, outbox)
            try await Self.clearSecondFactor(db, userId: userId, at: at)
        }
    }

    public func useTOTPStep(userId: String, step: Int64) async throws -> Bool {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE users SET totp_last_step = \(bind: step)
                WHERE id = \(bind: userId) AND (totp_last_step IS NULL OR totp_last_step < \(bind: step))
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func useRecoveryCode(userId: String, codeHash: String, at: Date) async throws -> Bool {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE recovery_codes SET used_at_ms = \(bind: Millis.from(at))
                WHERE user_id = \(bind: userId) AND code_hash = \(bind: codeHash) AND used_at_ms IS NULL
                RETURNING code_hash
                """
            ).first() != nil
        }
    }

    public func outboxMessages(recipient: String) async throws -> [OutboxMessage] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT id, kind, recipient, payload, created_at_ms, delivered_at_ms FROM outbox
                WHERE recipient = \(bind: recipient) ORDER BY created_at_ms, id
                """
            ).all().map(Self.decodeOutboxMessage)
        }
    }

    // MARK: Helpers

    static func insertUserToken(_ db: any SQLDatabase, _ token: UserTokenRecord) async throws {
        try await db.raw(
            """
            INSERT INTO user_tokens (token_hash, user_id, purpose, created_at_ms, expires_at_ms, data)
            VALUES (\(bind: token.tokenHash), \(bind: token.userId), \(bind: token.purpose.rawValue),
                \(bind: Millis.from(token.createdAt)), \(bind: Millis.from(token.expiresAt)), \(bind: token.data))
            """
        ).run()
    }

    /// Writes messages to the outbox. `ignoringDuplicates`: a message whose id is there already is
    /// left alone (events told once, whoever writes them first).
    static func enqueue(_ db: any SQLDatabase, _ messages: [OutboxMessage], ignoringDuplicates: Bool = false)
        async throws
    {
        let conflict: SQLQueryString = ignoringDuplicates ? " ON CONFLICT (id) DO NOTHING" : ""
        // Many rows per statement (a bulk change's events), each under both databases' limits.
        for chunk in messages.chunks(of: 400) {
            let rows = chunk.map { message -> SQLQueryString in
                """
                (\(bind: message.id), \(bind: message.kind), \(bind: message.recipient), \(bind: message.payload),
                    \(bind: Millis.from(message.createdAt)))
                """
            }
            try await db.raw(
                "INSERT INTO outbox (id, kind, recipient, payload, created_at_ms) VALUES "
                    + rows.joined(separator: ", ") + conflict
            ).run()
        }
    }

    static func decodeUser(_ row: any SQLRow) throws -> UserRecord {
        UserRecord(
            id: try row.decode(column: "id", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            passwordHash: try row.decode(column: "password_hash", as: String.self),
            emailVerifiedAt: try row.decode(column: "email_verified_at_ms", as: Int64?.self).map(Millis.date),
            totpSecret: try row.decode(column: "totp_secret", as: String?.self),
            totpEnabledAt: try row.decode(column: "totp_enabled_at_ms", as: Int64?.self).map(Millis.date),
            totpLastStep: try row.decode(column: "totp_last_step", as: Int64?.self),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)),
            updatedAt: Millis.date(try row.decode(column: "updated_at_ms", as: Int64.self))
        )
    }

    static func decodeSession(_ row: any SQLRow) throws -> SessionRecord {
        SessionRecord(
            id: try row.decode(column: "id", as: String.self),
            userId: try row.decode(column: "user_id", as: String.self),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)),
            lastUsedAt: Millis.date(try row.decode(column: "last_used_at_ms", as: Int64.self)),
            expiresAt: Millis.date(try row.decode(column: "expires_at_ms", as: Int64.self)),
            revokedAt: try row.decode(column: "revoked_at_ms", as: Int64?.self).map(Millis.date),
            userAgent: try row.decode(column: "user_agent", as: String?.self),
            ip: try row.decode(column: "ip", as: String?.self)
        )
    }
}
