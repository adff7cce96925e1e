import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    public func createWorkspace(_ workspace: WorkspaceRecord, ownerId: String, customer: CustomerRecord) async throws {
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO workspaces (id, name, created_at_ms, updated_at_ms)
                VALUES (\(bind: workspace.id), \(bind: workspace.name), \(bind: Millis.from(workspace.createdAt)),
                    \(bind: Millis.from(workspace.updatedAt)))
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO workspace_members (workspace_id, user_id, role, joined_at_ms)
                VALUES (\(bind: workspace.id), \(bind: ownerId), \(bind: WorkspaceRole.owner.rawValue),
                    \(bind: Millis.from(workspace.createdAt)))
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO customers (id, email, name, plan_id, billing_anchor_ms, created_at_ms, updated_at_ms)
                VALUES (\(bind: customer.id), \(bind: customer.email), \(bind: customer.name), \(bind: customer.planId),
                        \(bind: Millis.from(customer.billingAnchor)), \(bind: Millis.from(customer.createdAt)),
                            \(bind: Millis.from(customer.updatedAt)))
                """
            ).run()
            try await Self.recordCustomerState(
                db, customerId: customer.id, at: Millis.from(customer.createdAt), planId: customer.planId,
                status: .free)
        }
    }

    public func workspace(id: String) async throws -> WorkspaceRecord? {
        try await provider.read { db in
            try await db.raw("SELECT id, name, created_at_ms, updated_at_ms FROM workspaces WHERE id = \(bind: id)")
                .first().map(Self.decodeWorkspace)
        }
    }

    public func workspaces(userId: String) async throws -> [(WorkspaceRecord, WorkspaceRole)] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT w.id, w.name, w.created_at_ms, w.updated_at_ms, m.role FROM workspaces w
                JOIN workspace_members m ON m.workspace_id = w.id
                WHERE m.user_id = \(bind: userId) ORDER BY w.created_at_ms, w.id
                """
            ).all().map { row in (try Self.decodeWorkspace(row), try Self.decodeRole(row)) }
        }
    }

    public func role(workspaceId: String, userId: String) async throws -> WorkspaceRole? {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT role FROM workspace_members WHERE workspace_id = \(bind: workspaceId)
                    AND user_id = \(bind: userId)
                """
            ).first().map(Self.decodeRole)
        }
    }

    public func members(workspaceId: String) async throws -> [MemberRecord] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT m.user_id, u.email, m.role, m.joined_at_ms FROM workspace_members m
                    JOIN users u ON u.id = m.user_id
                WHERE m.workspace_id = \(bind: workspaceId) ORDER BY m.joined_at_ms, m.user_id
                """
            ).all().map { row in
                MemberRecord(
                    userId: try row.decode(column: "user_id", as: String.self),
                    email: try row.decode(column: "email", as: String.self),
                    role: try Self.decodeRole(row),
                    joinedAt: Millis.date(try row.decode(column: "joined_at_ms", as: Int64.self))
                )
            }
        }
    }

    public func renameWorkspace(id: String, name: String, at: Date) async throws {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE workspaces SET name = \(bind: name), updated_at_ms = \(bind: Millis.from(at)) WHERE id = \
                \(bind: id)
                """
            ).run()
        }
    }

    public func deleteWorkspace(id: String) async throws {
        try await provider.transaction { db in
            try await db.raw("DELETE FROM workspace_invitations WHERE workspace_id = \(bind: id)").run()
            try await db.raw("DELETE FROM workspace_members WHERE workspace_id = \(bind: id)").run()
            try await db.raw("UPDATE sessions SET workspace_id = NULL WHERE workspace_id = \(bind: id)").run()
            try await db.raw("DELETE FROM workspaces WHERE id = \(bind: id)").run()
        }
    }

    public func createInvitation(_ invitation: InvitationRecord, seatLimit: Int?, outbox: [OutboxMessage], now: Date)
        async throws
    {
        try await provider.transaction { db in
            try await self.lockWorkspace(db, invitation.workspaceId)
            if try await db.raw(
                """
                SELECT 1 AS one FROM workspace_members m JOIN users u ON u.id = m.user_id
                WHERE m.workspace_id = \(bind: invitation.workspaceId) AND u.email = \(bind: invitation.email)
                """
            ).first() != nil {
                throw WorkspaceStoreError.alreadyMember
            }
            // A new invitation to the same address replaces the pending one.
            try await db.raw(
                """
                DELETE FROM workspace_invitations
                WHERE workspace_id = \(bind: invitation.workspaceId) AND email = \(bind: invitation.email)
                    AND accepted_at_ms IS NULL
                """
            ).run()
            if let seatLimit {
                let taken = try await Self.seatsTaken(db, workspaceId: invitation.workspaceId, now: now)
                guard taken < seatLimit else { throw WorkspaceStoreError.seatsExhausted(limit: seatLimit) }
            }
            try await db.raw(
                """
                INSERT INTO workspace_invitations (id, workspace_id, email, role, token_hash, invited_by, created_at_ms,
                    expires_at_ms)
                VALUES (\(bind: invitation.id), \(bind: invitation.workspaceId), \(bind: invitation.email),
                    \(bind: invitation.role.rawValue),
                        \(bind: invitation.tokenHash), \(bind: invitation.invitedBy),
                            \(bind: Millis.from(invitation.createdAt)), \(bind: Millis.from(invitation.expiresAt)))
                """
            ).run()
            try await Self.enqueue(db, outbox)
        }
    }

    public func pendingInvitations(workspaceId: String, now: Date) async throws -> [InvitationRecord] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT id, workspace_id, email, role, token_hash, invited_by, created_at_ms, expires_at_ms
                    FROM workspace_invitations
                WHERE workspace_id = \(bind: workspaceId) AND accepted_at_ms IS NULL
                    AND expires_at_ms > \(bind: Millis.from(now))
                ORDER BY created_at_ms, id
                """
            ).all().map { row in
                InvitationRecord(
                    id: try row.decode(column: "id", as: String.self),
                    workspaceId: try row.decode(column: "workspace_id", as: String.self),
                    email: try row.decode(column: "email", as: String.self), role: try Self.decodeRole(row),
                    tokenHash: try row.decode(column: "token_hash", as: String.self),
                    invitedBy: try row.decode(column: "invited_by", as: String.self),
                    createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)),
                    expiresAt: Millis.date(try row.decode(column: "expires_at_ms", as: Int64.self))
                )
            }
        }
    }

    public func acceptInvitation(
        workspaceId: String, tokenHash: String, userId: String, email: String, seatLimit: Int?, at: Date
    ) async throws -> WorkspaceRole {
        try await provider.transaction { db in
            try await self.lockWorkspace(db, workspaceId)
            let millis = Millis.from(at)
            guard
                let row = try await db.raw(
                    """
                    SELECT id, email, role FROM workspace_invitations
                    WHERE workspace_id = \(bind: workspaceId) AND token_hash = \(bind: tokenHash)
                        AND accepted_at_ms IS NULL AND expires_at_ms > \(bind: millis)
                    """
                ).first()
            else { throw WorkspaceStoreError.invitationInvalid }
            guard try row.decode(column: "email", as: String.self) == email.lowercased() else {
                throw WorkspaceStoreError.invitationForAnotherEmail
            }
            if try await db.raw(
                """
                SELECT 1 AS one FROM workspace_members WHERE workspace_id = \(bind: workspaceId) AND user_id = \
                \(bind: userId)
                """
            ).first() != nil {
                throw WorkspaceStoreError.alreadyMember
            }
            // The invitation held a seat; it must still fit if the plan shrank since.
            if let seatLimit {
                let members = try await Self.count(
                    db, "SELECT COUNT(*) AS n FROM workspace_members WHERE workspace_id = \(bind: workspaceId)")
                guard members < seatLimit else { throw WorkspaceStoreError.seatsExhausted(limit: seatLimit) }
            }
            let role = try Self.decodeRole(row)
            try await db.raw(
                """
                UPDATE workspace_invitations SET accepted_at_ms = \(bind: millis) WHERE id = \
                \(bind: try row.decode(column: "id", as: String.self))
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO workspace_members (workspace_id, user_id, role, joined_at_ms)
                VALUES (\(bind: workspaceId), \(bind: userId), \(bind: role.rawValue), \(bind: millis))
                """
            ).run()
            return role
        }
    }

    public func setRole(workspaceId: String, userId: String, role: WorkspaceRole) async throws -> Bool {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE workspace_members SET role = \(bind: role.rawValue)
                WHERE workspace_id = \(bind: workspaceId) AND user_id = \(bind: userId)
                    AND role <> \(bind: WorkspaceRole.owner.rawValue)
                RETURNING user_id
                """
            ).first() != nil
        }
    }

    public func removeMember(workspaceId: String, userId: String) async throws -> Bool {
        try await provider.transaction { db in
            let removed =
                try await db.raw(
                    """
                    DELETE FROM workspace_members
                    WHERE workspace_id = \(bind: workspaceId) AND user_id = \(bind: userId)
                        AND role <> \(bind: WorkspaceRole.owner.rawValue)
                    RETURNING user_id
                    """
                ).first() != nil
            if removed {
                try await db.raw(
                    """
                    UPDATE sessions SET workspace_id = NULL WHERE user_id = \(bind: userId) AND workspace_id = \
                    \(bind: workspaceId)
                    """
                ).run()
            }
            return removed
        }
    }

    public func transferOwnership(workspaceId: String, from: String, to: String) async throws {
        try await provider.transaction { db in
            try await self.lockWorkspace(db, workspaceId)
            guard
                try await db.raw(
                    """
                    UPDATE workspace_members SET role = \(bind: WorkspaceRole.owner.rawValue)
                    WHERE workspace_id = \(bind: workspaceId) AND user_id = \(bind: to)
                        AND role <> \(bind: WorkspaceRole.owner.rawValue)
                    RETURNING user_id
                    """
                ).first() != nil
            else { throw WorkspaceStoreError.notMember }
            try await db.raw(
                """
                UPDATE workspace_members SET role = \(bind: WorkspaceRole.admin.rawValue)
                WHERE workspace_id = \(bind: workspaceId) AND user_id = \(bind: from)
                """
            ).run()
        }
    }

    public func selectWorkspace(sessionId: String, workspaceId: String?) async throws {
        try await provider.transaction { db in
            try await db.raw("UPDATE sessions SET workspace_id = \(bind: workspaceId) WHERE id = \(bind: sessionId)")
                .run()
        }
    }

    public func selectedWorkspace(sessionId: String) async throws -> String? {
        try await provider.read { db in
            try await db.raw("SELECT workspace_id FROM sessions WHERE id = \(bind: sessionId)").first()?.decode(
                column: "workspace_id", as: String?.self)
        }
    }

    // MARK: Helpers

    /// Serializes seat changes of one workspace. SQLite's single writer already does.
    func lockWorkspace(_ db: any SQLDatabase, _ id: String) async throws {
        if provider.kind == .postgres {
            try await db.raw("SELECT id FROM workspaces WHERE id = \(bind: id) FOR UPDATE").run()
        }
    }

    static func seatsTaken(_ db: any SQLDatabase, workspaceId: String, now: Date) async throws -> Int {
        let members = try await count(
            db, "SELECT COUNT(*) AS n FROM workspace_members WHERE workspace_id = \(bind: workspaceId)")
        let pending = try await count(
            db,
            """
            SELECT COUNT(*) AS n FROM workspace_invitations
            WHERE workspace_id = \(bind: workspaceId) AND accepted_at_ms IS NULL
                AND expires_at_ms > \(bind: Millis.from(now))
            """)
        return members + pending
    }

    static func count(_ db: any SQLDatabase, _ query: SQLQueryString) async throws -> Int {
        try await db.raw(query).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    static func decodeWorkspace(_ row: any SQLRow) throws -> WorkspaceRecord {
        WorkspaceRecord(
            id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)),
            updatedAt: Millis.date(try row.decode(column: "updated_at_ms", as: Int64.self))
        )
    }

    static func decodeRole(_ row: any SQLRow) throws -> WorkspaceRole {
        let raw = try row.decode(column: "role", as: String.self)
        guard let role = WorkspaceRole(rawValue: raw) else {
            throw StoreError.invalidConfiguration("unknown role \(raw) in the database")
        }
        return role
    }
}
