import Foundation
import SQLKit
import TollgateStorage

/// Sessions, single-use tokens and e-mail changes of end users' accounts.
extension SQLStore {
    public func createSession(_ session: SessionRecord, refreshTokenHash: String) async throws {
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO sessions (id, user_id, created_at_ms, last_used_at_ms, expires_at_ms, user_agent, ip)
                VALUES (\(bind: session.id), \(bind: session.userId), \(bind: Millis.from(session.createdAt)),
                    \(bind: Millis.from(session.lastUsedAt)),
                        \(bind: Millis.from(session.expiresAt)), \(bind: session.userAgent), \(bind: session.ip))
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO refresh_tokens (token_hash, session_id, created_at_ms)
                VALUES (\(bind: refreshTokenHash), \(bind: session.id), \(bind: Millis.from(session.createdAt)))
                """
            ).run()
        }
    }

    public func refreshSession(tokenHash: String, newTokenHash: String, at: Date, extendTo: Date) async throws
        -> RefreshOutcome
    {
        let millis = Millis.from(at)
        return try await provider.transaction { db in
            // Spend the token only if it is live: of two concurrent uses, exactly one wins.
            if let row = try await db.raw(
                """
                UPDATE refresh_tokens SET spent_at_ms = \(bind: millis)
                WHERE token_hash = \(bind: tokenHash) AND spent_at_ms IS NULL
                RETURNING session_id
                """
            ).first() {
                let sessionId = try row.decode(column: "session_id", as: String.self)
                guard
                    let session = try await db.raw(
                        """
                        UPDATE sessions SET last_used_at_ms = \(bind: millis),
                            expires_at_ms = \(bind: Millis.from(extendTo))
                        WHERE id = \(bind: sessionId) AND revoked_at_ms IS NULL AND expires_at_ms > \(bind: millis)
                        RETURNING \(unsafeRaw: Self.sessionColumns)
                        """
                    ).first().map(Self.decodeSession)
                else { return .invalid }
                try await db.raw(
                    """
                    INSERT INTO refresh_tokens (token_hash, session_id, created_at_ms) VALUES (\(bind: newTokenHash),
                        \(bind: sessionId), \(bind: millis))
                    """
                ).run()
                return .rotated(session)
            }
            guard
                let spent = try await db.raw(
                    "SELECT session_id FROM refresh_tokens WHERE token_hash = \(bind: tokenHash)"
                ).first()
            else {
                return .invalid
            }
            let sessionId = try spent.decode(column: "session_id", as: String.self)
            try await db.raw(
                """
                UPDATE sessions SET revoked_at_ms = COALESCE(revoked_at_ms, \(bind: millis)) WHERE id = \
                \(bind: sessionId)
                """
            ).run()
            return .reused(sessionId: sessionId)
        }
    }

    public func session(id: String) async throws -> SessionRecord? {
        try await provider.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.sessionColumns) FROM sessions WHERE id = \(bind: id)").first()
                .map(Self.decodeSession)
        }
    }

    public func sessions(userId: String, now: Date) async throws -> [SessionRecord] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.sessionColumns) FROM sessions
                WHERE user_id = \(bind: userId) AND revoked_at_ms IS NULL AND expires_at_ms > \(bind: Millis.from(now))
                ORDER BY created_at_ms DESC, id
                """
            ).all().map(Self.decodeSession)
        }
    }

    public func revokeSession(userId: String, sessionId: String, at: Date) async throws -> Bool {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE sessions SET revoked_at_ms = COALESCE(revoked_at_ms, \(bind: Millis.from(at)))
                WHERE id = \(bind: sessionId) AND user_id = \(bind: userId)
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func insertUserToken(_ token: UserTokenRecord, outbox: [OutboxMessage]) async throws {
        try await provider.transaction { db in
            try await Self.insertUserToken(db, token)
            try await Self.enqueue(db, outbox)
        }
    }

    public func recordPasswordResetRequest(
        emailDigest: String, at: Date, token: UserTokenRecord?, outbox: [OutboxMessage]
    ) async throws {
        let millis = Millis.from(at)
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO password_reset_requests (email_digest, requested_at_ms)
                VALUES (\(bind: emailDigest), \(bind: millis))
                """
            ).run()
            try await db.raw(
                "DELETE FROM password_reset_requests WHERE requested_at_ms < \(bind: millis - 86_400_000)"
            ).run()
            if let token { try await Self.insertUserToken(db, token) }
            try await Self.enqueue(db, outbox)
        }
    }

    public func consumeUserToken(tokenHash: String, purpose: UserTokenPurpose, at: Date) async throws -> String? {
        let millis = Millis.from(at)
        return try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE user_tokens SET used_at_ms = \(bind: millis)
                WHERE token_hash = \(bind: tokenHash) AND purpose = \(bind: purpose.rawValue) AND used_at_ms IS NULL
                    AND expires_at_ms > \(bind: millis)
                RETURNING user_id
                """
            ).first()?.decode(column: "user_id", as: String.self)
        }
    }

    public func changeEmail(
        tokenHash: String, at: Date,
        notice: @escaping @Sendable (_ from: String, _ to: String, _ locale: String?) -> [OutboxMessage]
    ) async throws -> EmailChange {
        let millis = Millis.from(at)
        return try await provider.transaction { db in
            guard
                let token = try await db.raw(
                    """
                    UPDATE user_tokens SET used_at_ms = \(bind: millis)
                    WHERE token_hash = \(bind: tokenHash) AND purpose = \(bind: UserTokenPurpose.changeEmail.rawValue)
                        AND used_at_ms IS NULL AND expires_at_ms > \(bind: millis)
                    RETURNING user_id, data
                    """
                ).first(),
                let address = try token.decode(column: "data", as: String?.self)
            else { return .invalid }
            let userId = try token.decode(column: "user_id", as: String.self)
            guard
                let old = try await db.raw("SELECT email FROM users WHERE id = \(bind: userId)").first()?
                    .decode(column: "email", as: String.self)
            else { return .invalid }
            let taken = try await db.raw(
                "SELECT id FROM users WHERE email = \(bind: address) AND id <> \(bind: userId)"
            ).first()
            guard taken == nil else { return .taken }
            try await db.raw(
                """
                UPDATE users SET email = \(bind: address), email_verified_at_ms = \(bind: millis),
                    updated_at_ms = \(bind: millis)
                WHERE id = \(bind: userId)
                """
            ).run()
            try await db.raw(
                """
                UPDATE customers SET email = \(bind: address), updated_at_ms = \(bind: millis)
                WHERE id = \(bind: userId)
                """
            ).run()
            // Other links of the account (a reset sent to the old address) die with it.
            try await db.raw(
                """
                UPDATE user_tokens SET used_at_ms = \(bind: millis)
                WHERE user_id = \(bind: userId) AND used_at_ms IS NULL
                """
            ).run()
            let locale = try await db.raw("SELECT locale FROM customers WHERE id = \(bind: userId)").first()?
                .decode(column: "locale", as: String?.self)
            try await Self.enqueue(db, notice(old, address, locale))
            try await self.announceCustomerChange(db, id: userId)
            return .changed(userId: userId, from: old, to: address)
        }
    }
}
