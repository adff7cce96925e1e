import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    static let operatorColumns = """
        id, email, role, password_hash, sealed_totp_secret, setup_token_digest, setup_expires_at_ms, created_at_ms
        """

    public func createOperator(_ record: OperatorRecord) async throws -> Bool {
        let r = record
        return try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO operators (\(unsafeRaw: Self.operatorColumns))
                VALUES (\(bind: r.id), \(bind: r.email), \(bind: r.role.rawValue), \(bind: r.passwordHash),
                    \(bind: r.sealedTOTPSecret), \(bind: r.setupTokenDigest),
                    \(bind: r.setupExpiresAt.map(Millis.from)),
                    \(bind: Millis.from(r.createdAt)))
                ON CONFLICT (email) DO NOTHING
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func operatorAccount(id: String) async throws -> OperatorRecord? {
        try await operatorAccount(where: "id", equals: id)
    }

    public func operatorAccount(email: String) async throws -> OperatorRecord? {
        try await operatorAccount(where: "email", equals: email)
    }

    public func operatorAccount(setupTokenDigest: String) async throws -> OperatorRecord? {
        try await operatorAccount(where: "setup_token_digest", equals: setupTokenDigest)
    }

    func operatorAccount(where column: String, equals value: String) async throws -> OperatorRecord? {
        try await provider.read { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.operatorColumns) FROM operators WHERE \(ident: column) = \(bind: value)"
            ).first().map(Self.decodeOperator)
        }
    }

    public func operatorAccounts() async throws -> [OperatorRecord] {
        try await provider.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.operatorColumns) FROM operators ORDER BY created_at_ms, id")
                .all().map(Self.decodeOperator)
        }
    }

    public func completeOperatorSetup(
        id: String, setupTokenDigest: String, passwordHash: String, sealedTOTPSecret: String
    ) async throws -> Bool {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE operators SET password_hash = \(bind: passwordHash),
                    sealed_totp_secret = \(bind: sealedTOTPSecret), setup_token_digest = NULL,
                    setup_expires_at_ms = NULL
                WHERE id = \(bind: id) AND setup_token_digest = \(bind: setupTokenDigest)
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func setOperatorRole(id: String, role: OperatorRole) async throws -> OperatorRoleChange? {
        try await changeOperator(id: id, leavesOwner: role == .owner) { db in
            try await db.raw("UPDATE operators SET role = \(bind: role.rawValue) WHERE id = \(bind: id)").run()
        }
    }

    public func deleteOperator(id: String) async throws -> OperatorRoleChange? {
        try await changeOperator(id: id, leavesOwner: false) { db in
            try await db.raw("DELETE FROM operator_sessions WHERE operator_id = \(bind: id)").run()
            try await db.raw("DELETE FROM operators WHERE id = \(bind: id)").run()
        }
    }

    /// Applies `change` to one operator unless it takes the last owner away. Owners are counted
    /// under a lock on their rows, so two owners demoting each other at once cannot both succeed.
    func changeOperator(
        id: String, leavesOwner: Bool, _ change: @escaping @Sendable (any SQLDatabase) async throws -> Void
    ) async throws -> OperatorRoleChange? {
        let lock = provider.kind == .postgres ? " FOR UPDATE" : ""
        return try await provider.transaction { db in
            let owners = try await db.raw(
                "SELECT id FROM operators WHERE role = 'owner' ORDER BY id\(unsafeRaw: lock)"
            ).all().map { try $0.decode(column: "id", as: String.self) }
            guard
                let before = try await db.raw(
                    "SELECT \(unsafeRaw: Self.operatorColumns) FROM operators WHERE id = \(bind: id)"
                ).first().map(Self.decodeOperator)
            else { return nil }
            if before.role == .owner, !leavesOwner, owners.count <= 1 { return .lastOwner }
            try await change(db)
            return .done(before: before)
        }
    }

    public func spendOperatorTOTPStep(id: String, step: Int64) async throws -> Bool {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE operators SET totp_last_step = \(bind: step)
                WHERE id = \(bind: id) AND (totp_last_step IS NULL OR totp_last_step < \(bind: step))
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func createOperatorSession(_ session: OperatorSessionRecord) async throws {
        let s = session
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO operator_sessions (digest, operator_id, csrf_token, created_at_ms, last_seen_at_ms)
                VALUES (\(bind: s.digest), \(bind: s.operatorId), \(bind: s.csrfToken),
                    \(bind: Millis.from(s.createdAt)), \(bind: Millis.from(s.lastSeenAt)))
                """
            ).run()
        }
    }

    public func operatorSession(digest: String) async throws -> OperatorSessionRecord? {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT digest, operator_id, csrf_token, created_at_ms, last_seen_at_ms FROM operator_sessions
                WHERE digest = \(bind: digest)
                """
            ).first().map { row in
                OperatorSessionRecord(
                    digest: try row.decode(column: "digest", as: String.self),
                    operatorId: try row.decode(column: "operator_id", as: String.self),
                    csrfToken: try row.decode(column: "csrf_token", as: String.self),
                    createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)),
                    lastSeenAt: Millis.date(try row.decode(column: "last_seen_at_ms", as: Int64.self)))
            }
        }
    }

    public func touchOperatorSession(digest: String, at date: Date) async throws {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE operator_sessions SET last_seen_at_ms = \(bind: Millis.from(date)) WHERE digest = \(bind: digest)
                """
            ).run()
        }
    }

    public func deleteOperatorSession(digest: String) async throws {
        try await provider.transaction { db in
            try await db.raw("DELETE FROM operator_sessions WHERE digest = \(bind: digest)").run()
        }
    }

    static func decodeOperator(_ row: any SQLRow) throws -> OperatorRecord {
        let role = try row.decode(column: "role", as: String.self)
        guard let parsed = OperatorRole(rawValue: role) else {
            throw StoreError.invalidConfiguration("operator with unknown role \(role)")
        }
        return OperatorRecord(
            id: try row.decode(column: "id", as: String.self),
            email: try row.decode(column: "email", as: String.self), role: parsed,
            passwordHash: try row.decode(column: "password_hash", as: String?.self),
            sealedTOTPSecret: try row.decode(column: "sealed_totp_secret", as: String?.self),
            setupTokenDigest: try row.decode(column: "setup_token_digest", as: String?.self),
            setupExpiresAt: try row.decode(column: "setup_expires_at_ms", as: Int64?.self).map(Millis.date),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)))
    }
}
