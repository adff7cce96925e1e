import Foundation
import TollgateCore
import TollgateStorage

/// Workspaces: roles, invitations by e-mail, seats, ownership. A workspace is also
/// a customer of the core (same id), so it has a plan and shared quotas of its own.
public final class WorkspaceService: Sendable {
    private let catalog: Catalog
    private let store: any WorkspaceStore & IdentityStore & CustomerStore & TransactionalStorage
    private let clock: any TollgateClock
    /// Seals invitation tokens in the outbox.
    private let box: SecretBox
    public let invitationSeconds: TimeInterval = 7 * 86_400

    public init(
        catalog: Catalog, store: any WorkspaceStore & IdentityStore & CustomerStore & TransactionalStorage,
        clock: any TollgateClock, box: SecretBox
    ) {
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.box = box
    }

    public struct Membership: Sendable {
        public let workspace: WorkspaceRecord
        public let role: WorkspaceRole
    }

    /// The caller's membership, if their role allows `action`. Someone who is not a member gets
    /// "not found", never "forbidden": a workspace's existence is nobody else's business.
    public func authorize(_ action: WorkspaceAction, workspaceId: String, userId: String) async throws -> Membership {
        guard let role = try await store.role(workspaceId: workspaceId, userId: userId),
            let workspace = try await store.workspace(id: workspaceId)
        else {
            throw DomainError(.notFound, "no workspace \(workspaceId)", field: "id")
        }
        guard role.may(action) else {
            let needed = WorkspaceRole.allCases.filter { $0.may(action) }.map(\.rawValue).joined(separator: " or ")
            throw DomainError(.forbidden, "\(action.rawValue) needs the role \(needed); you are \(role.rawValue)")
        }
        return Membership(workspace: workspace, role: role)
    }

    public static let nameMaximum = 100

    public func create(userId: String, name rawName: String) async throws -> Membership {
        let name = try DisplayName.validated(rawName, maximum: Self.nameMaximum)
        let now = clock.now()
        let workspace = WorkspaceRecord(id: Secrets.randomId(prefix: "ws_"), name: name, createdAt: now, updatedAt: now)
        let customer = CustomerRecord(
            id: workspace.id, email: nil, name: name, planId: catalog.defaultPlanId, billingAnchor: now, createdAt: now,
            updatedAt: now)
        try await store.transaction { tx in
            try await tx.createWorkspace(workspace, ownerId: userId, customer: customer)
            try await Self.record("workspace.created", workspace.id, after: ["name": name], in: tx)
        }
        return Membership(workspace: workspace, role: .owner)
    }

    public func list(userId: String) async throws -> [Membership] {
        try await store.workspaces(userId: userId).map { Membership(workspace: $0.0, role: $0.1) }
    }

    public func rename(workspaceId: String, userId: String, name rawName: String) async throws -> Membership {
        let name = try DisplayName.validated(rawName, maximum: Self.nameMaximum)
        let membership = try await authorize(.rename, workspaceId: workspaceId, userId: userId)
        let now = clock.now()
        try await store.transaction { tx in
            try await tx.renameWorkspace(id: workspaceId, name: name, at: now)
            try await Self.record(
                "workspace.renamed", workspaceId, before: ["name": membership.workspace.name], after: ["name": name],
                in: tx)
        }
        var workspace = membership.workspace
        workspace.name = name
        return Membership(workspace: workspace, role: membership.role)
    }

    public func delete(workspaceId: String, userId: String) async throws {
        let membership = try await authorize(.delete, workspaceId: workspaceId, userId: userId)
        try await store.transaction { tx in
            try await tx.deleteWorkspace(id: workspaceId)
            try await Self.record("workspace.deleted", workspaceId, before: ["name": membership.workspace.name], in: tx)
        }
    }

    public func members(workspaceId: String, userId: String) async throws -> [MemberRecord] {
        _ = try await authorize(.listMembers, workspaceId: workspaceId, userId: userId)
        return try await store.members(workspaceId: workspaceId)
    }

    /// Who is in the workspace, for any member to read (a member sees the team, read only);
    /// managing them, and the invitations, stay with the roles that may.
    public func roster(workspaceId: String, userId: String) async throws -> [MemberRecord] {
        _ = try await authorize(.list, workspaceId: workspaceId, userId: userId)
        return try await store.members(workspaceId: workspaceId)
    }

    /// Members allowed by the workspace's plan, add-ons and seats bought; nil when unbounded.
    public func seatLimit(workspaceId: String) async throws -> Int? {
        guard let customer = try await store.customer(id: workspaceId) else { return nil }
        let plan = catalog.plan(customer.planId) ?? catalog.defaultPlan
        return Seats.limit(
            catalog: catalog, plan: plan, addOnQuantities: customer.addOns, purchasedSeats: customer.seats)
    }

    public struct Invitation: Sendable {
        public let record: InvitationRecord
    }

    /// Invites `email` with `role` (not owner); the single-use link goes out by e-mail (outbox).
    public func invite(workspaceId: String, userId: String, email rawEmail: String, role: WorkspaceRole) async throws
        -> InvitationRecord
    {
        let membership = try await authorize(.invite, workspaceId: workspaceId, userId: userId)
        guard role != .owner else {
            throw DomainError.invalidField("role", "a workspace has one owner; invite as ADMIN and transfer ownership")
        }
        guard membership.role.mayGrant(role) else {
            throw DomainError(
                .forbidden, "a \(membership.role.rawValue) may invite members and viewers only", field: "role")
        }
        let email = try EmailAddress.normalized(rawEmail)
        let now = clock.now()
        let token = Secrets.opaqueToken(prefix: "tg_inv_")
        let invitation = InvitationRecord(
            id: Secrets.randomId(prefix: "inv_"), workspaceId: workspaceId, email: email, role: role,
            tokenHash: OpaqueDigest.hex(token),
            invitedBy: userId, createdAt: now, expiresAt: now + invitationSeconds
        )
        let payload = String(
            decoding: try JSONEncoder().encode(
                [
                    "sealedToken": try box.sealToken(token), "workspaceId": workspaceId,
                    "workspaceName": membership.workspace.name,
                    "role": role.rawValue,
                    "expiresAt": ISO8601DateFormatter().string(from: invitation.expiresAt),
                    "inviter": try await store.user(id: userId)?.email,
                ].compactMapValues { $0 }), as: UTF8.self)
        let message = OutboxMessage(
            id: Secrets.randomId(prefix: "msg_"), kind: "email.workspace_invitation", recipient: email,
            payload: payload, createdAt: now)
        let seats = try await seatLimit(workspaceId: workspaceId)
        do {
            try await store.transaction { tx in
                try await tx.createInvitation(invitation, seatLimit: seats, outbox: [message], now: now)
                try await Self.record(
                    "workspace.member_invited", workspaceId, after: ["email": email, "role": role.rawValue], in: tx)
            }
        } catch WorkspaceStoreError.seatsExhausted(let limit) {
            throw Self.seatsError(limit)
        } catch WorkspaceStoreError.alreadyMember {
            throw DomainError(.conflict, "\(email) is already a member", field: "email")
        }
        return invitation
    }

    public func pendingInvitations(workspaceId: String, userId: String) async throws -> [InvitationRecord] {
        _ = try await authorize(.listMembers, workspaceId: workspaceId, userId: userId)
        return try await store.pendingInvitations(workspaceId: workspaceId, now: clock.now())
    }

    /// What an invitation's link offers, for its page: the workspace's name, the role and who
    /// invited. Nil when the token is not a pending invitation of that workspace (the page then
    /// names nothing, and joining says why it cannot).
    public func invitation(workspaceId: String, token: String) async throws
        -> (workspace: String, role: WorkspaceRole, inviter: String?)?
    {
        let digest = OpaqueDigest.hex(token)
        guard
            let invitation = try await store.pendingInvitations(workspaceId: workspaceId, now: clock.now()).first(
                where: { constantTimeEquals($0.tokenHash, digest) }),
            let workspace = try await store.workspace(id: workspaceId)
        else { return nil }
        return (workspace.name, invitation.role, try await store.user(id: invitation.invitedBy)?.email)
    }

    /// Accepts an invitation; only the invited address can, within 7 days, once.
    public func accept(workspaceId: String, token: String, userId: String) async throws -> Membership {
        guard let user = try await store.user(id: userId) else {
            throw DomainError(.unauthorized, "this account no longer exists")
        }
        // The invitation went to the address: only its verified holder may take it.
        guard user.emailVerifiedAt != nil else { throw DomainError.emailNotVerified }
        let role: WorkspaceRole
        let seats = try await seatLimit(workspaceId: workspaceId)
        let now = clock.now()
        do {
            role = try await store.transaction { tx in
                let role = try await tx.acceptInvitation(
                    workspaceId: workspaceId, tokenHash: OpaqueDigest.hex(token), userId: userId, email: user.email,
                    seatLimit: seats, at: now)
                try await Self.record(
                    "workspace.invitation_accepted", workspaceId, after: ["member": userId, "role": role.rawValue],
                    in: tx)
                return role
            }
        } catch WorkspaceStoreError.invitationInvalid {
            throw DomainError(.notFound, "no such invitation, or it was used or has expired", field: "token")
        } catch WorkspaceStoreError.invitationForAnotherEmail {
            throw DomainError(.forbidden, "this invitation was sent to another e-mail address")
        } catch WorkspaceStoreError.alreadyMember {
            throw DomainError(.conflict, "you are already a member of this workspace")
        } catch WorkspaceStoreError.seatsExhausted(let limit) {
            throw Self.seatsError(limit)
        }
        guard let workspace = try await store.workspace(id: workspaceId) else {
            throw DomainError(.notFound, "no workspace \(workspaceId)", field: "id")
        }
        return Membership(workspace: workspace, role: role)
    }

    public func changeRole(workspaceId: String, userId: String, targetId: String, role: WorkspaceRole) async throws {
        _ = try await authorize(.changeRole, workspaceId: workspaceId, userId: userId)
        guard role != .owner else {
            throw DomainError.invalidField("role", "use the transfer route to change the owner")
        }
        try await store.transaction { tx in
            let before = try await tx.role(workspaceId: workspaceId, userId: targetId)
            guard try await tx.setRole(workspaceId: workspaceId, userId: targetId, role: role) else {
                throw DomainError(
                    .notFound, "no member \(targetId) whose role can change (the owner's cannot)", field: "userId")
            }
            try await Self.record(
                "workspace.role_changed", workspaceId, target: "account:\(targetId)",
                before: ["role": before?.rawValue], after: ["role": role.rawValue], in: tx)
        }
    }

    public func removeMember(workspaceId: String, userId: String, targetId: String) async throws {
        // Anyone may leave; removing someone else needs ADMIN or above.
        let membership = try await authorize(
            targetId == userId ? .leave : .removeMember, workspaceId: workspaceId, userId: userId)
        // The owner is never removed (the store refuses it with its own answer, below).
        if targetId != userId, let targetRole = try await store.role(workspaceId: workspaceId, userId: targetId),
            targetRole != .owner, !membership.role.mayRemove(targetRole)
        {
            throw DomainError(
                .forbidden, "a \(membership.role.rawValue) may not remove a \(targetRole.rawValue)", field: "userId")
        }
        try await store.transaction { tx in
            let before = try await tx.role(workspaceId: workspaceId, userId: targetId)
            guard try await tx.removeMember(workspaceId: workspaceId, userId: targetId) else {
                throw DomainError(
                    .notFound, "no member \(targetId) who can be removed (the owner cannot; transfer ownership first)",
                    field: "userId")
            }
            try await Self.record(
                "workspace.member_removed", workspaceId, target: "account:\(targetId)",
                before: ["role": before?.rawValue], in: tx)
        }
    }

    public func transferOwnership(workspaceId: String, userId: String, to targetId: String) async throws {
        _ = try await authorize(.transferOwnership, workspaceId: workspaceId, userId: userId)
        do {
            try await store.transaction { tx in
                try await tx.transferOwnership(workspaceId: workspaceId, from: userId, to: targetId)
                try await Self.record(
                    "workspace.ownership_transferred", workspaceId, before: ["owner": userId],
                    after: ["owner": targetId],
                    in: tx)
            }
        } catch WorkspaceStoreError.notMember {
            throw DomainError(.notFound, "\(targetId) is not a member of this workspace", field: "userId")
        }
    }

    /// A workspace's change in the audit trail, within the change's transaction; its target is the
    /// workspace unless another is named (a member's account).
    private static func record(
        _ action: String, _ workspaceId: String, target: String? = nil, before: [String: String?]? = nil,
        after: [String: String?]? = nil, in tx: any AuditStore
    ) async throws {
        try await Audit.record(
            AuditChange(
                action, target: target ?? "workspace:\(workspaceId)", workspaceId: workspaceId, before: before,
                after: after), in: tx)
    }

    private static func seatsError(_ limit: Int) -> DomainError {
        DomainError(
            .seatLimitReached,
            """
            all \(limit) seats of this workspace are taken (members and pending invitations): buy seats or an \
            add-on, or upgrade
            """,
            field: "email")
    }
}
