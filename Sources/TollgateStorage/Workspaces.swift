import Foundation
import TollgateCore

public struct WorkspaceRecord: Sendable, Hashable {
    /// Also the workspace's customer id: a workspace is billed and metered like a customer.
    public var id: String
    public var name: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, name: String, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct MemberRecord: Sendable, Hashable {
    public let userId: String
    public let email: String
    public let role: WorkspaceRole
    public let joinedAt: Date

    public init(userId: String, email: String, role: WorkspaceRole, joinedAt: Date) {
        self.userId = userId
        self.email = email
        self.role = role
        self.joinedAt = joinedAt
    }
}

public struct InvitationRecord: Sendable, Hashable {
    public let id: String
    public let workspaceId: String
    /// Lower-cased; only this address can accept.
    public let email: String
    public let role: WorkspaceRole
    public let tokenHash: String
    public let invitedBy: String
    public let createdAt: Date
    public let expiresAt: Date

    public init(
        id: String, workspaceId: String, email: String, role: WorkspaceRole, tokenHash: String, invitedBy: String,
        createdAt: Date, expiresAt: Date
    ) {
        self.id = id
        self.workspaceId = workspaceId
        self.email = email
        self.role = role
        self.tokenHash = tokenHash
        self.invitedBy = invitedBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

public enum WorkspaceStoreError: Error, Sendable, Equatable {
    /// Members plus pending invitations would pass the seat limit.
    case seatsExhausted(limit: Int)
    case invitationInvalid
    case invitationForAnotherEmail
    case alreadyMember
    case notMember
}

public protocol WorkspaceStore: Sendable {
    /// Creates the workspace, its customer record and its owner's membership, in one transaction.
    func createWorkspace(_ workspace: WorkspaceRecord, ownerId: String, customer: CustomerRecord) async throws
    func workspace(id: String) async throws -> WorkspaceRecord?
    /// The user's workspaces with their role, oldest first.
    func workspaces(userId: String) async throws -> [(WorkspaceRecord, WorkspaceRole)]
    func role(workspaceId: String, userId: String) async throws -> WorkspaceRole?
    func members(workspaceId: String) async throws -> [MemberRecord]
    func renameWorkspace(id: String, name: String, at: Date) async throws
    /// Removes the workspace, its members and invitations (its usage history stays).
    func deleteWorkspace(id: String) async throws
    /// Stores an invitation (replacing a pending one for the same e-mail) unless members plus
    /// pending invitations would pass `seatLimit`; queues its e-mail in the same transaction.
    func createInvitation(_ invitation: InvitationRecord, seatLimit: Int?, outbox: [OutboxMessage], now: Date)
        async throws
    func pendingInvitations(workspaceId: String, now: Date) async throws -> [InvitationRecord]
    /// Spends a live invitation of this workspace for the user whose address it names.
    func acceptInvitation(
        workspaceId: String, tokenHash: String, userId: String, email: String, seatLimit: Int?, at: Date
    ) async throws -> WorkspaceRole
    func setRole(workspaceId: String, userId: String, role: WorkspaceRole) async throws -> Bool
    func removeMember(workspaceId: String, userId: String) async throws -> Bool
    /// Makes `to` (a member) the owner and the old owner an admin.
    func transferOwnership(workspaceId: String, from: String, to: String) async throws
    /// The workspace a session has selected, carried in its access tokens.
    func selectWorkspace(sessionId: String, workspaceId: String?) async throws
    func selectedWorkspace(sessionId: String) async throws -> String?
}
