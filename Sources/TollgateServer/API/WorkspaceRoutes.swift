import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage

/// Workspaces for signed-in users, with the role each route needs.
struct WorkspaceRoutes: Sendable {
    let workspaces: WorkspaceService
    let service: Meter

    func register(on group: RouterGroup<UserContext>) {
        group.post("workspaces", use: create)
        group.get("workspaces", use: list)
        group.get("workspaces/{id}", use: detail)
        group.patch("workspaces/{id}", use: rename)
        group.delete("workspaces/{id}", use: delete)
        group.get("workspaces/{id}/members", use: members)
        group.post("workspaces/{id}/members/invite", use: invite)
        group.patch("workspaces/{id}/members/{userId}", use: changeRole)
        group.delete("workspaces/{id}/members/{userId}", use: removeMember)
        group.get("workspaces/{id}/quota", use: quota)
        group.post("workspaces/{id}/invitations/{token}", use: accept)
        group.post("workspaces/{id}/transfer", use: transfer)
    }

    struct NameRequest: Decodable { let name: String }
    struct InviteRequest: Decodable {
        let email: String
        let role: String?
    }
    struct RoleRequest: Decodable { let role: String }
    struct TransferRequest: Decodable { let userId: String }

    static func role(_ raw: String, field: String = "role") throws -> WorkspaceRole {
        guard let role = WorkspaceRole(rawValue: raw.uppercased()) else {
            throw DomainError.invalidField(
                field, "expected one of \(WorkspaceRole.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return role
    }

    @Sendable func create(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: NameRequest.self, context: context)
        let membership = try await workspaces.create(userId: context.user.userId, name: body.name)
        return EditedResponse(
            status: .created,
            response: WorkspaceResponse(
                membership, seatLimit: try await workspaces.seatLimit(workspaceId: membership.workspace.id)))
    }

    @Sendable func list(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let mine = try await workspaces.list(userId: context.user.userId)
        return EditedResponse(
            status: .ok, response: ListResponse(data: mine.map { WorkspaceResponse($0, seatLimit: nil) }))
    }

    @Sendable func detail(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let membership = try await workspaces.authorize(
            .view, workspaceId: try Validate.pathIdentifier(context), userId: context.user.userId)
        return EditedResponse(
            status: .ok,
            response: WorkspaceResponse(
                membership, seatLimit: try await workspaces.seatLimit(workspaceId: membership.workspace.id)))
    }

    @Sendable func rename(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: NameRequest.self, context: context)
        let membership = try await workspaces.rename(
            workspaceId: try Validate.pathIdentifier(context), userId: context.user.userId, name: body.name)
        return EditedResponse(status: .ok, response: WorkspaceResponse(membership, seatLimit: nil))
    }

    @Sendable func delete(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let workspaceId = try Validate.pathIdentifier(context)
        try await workspaces.delete(workspaceId: workspaceId, userId: context.user.userId)
        return EditedResponse(status: .ok, response: ["deleted": workspaceId])
    }

    @Sendable func members(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let workspaceId = try Validate.pathIdentifier(context)
        let members = try await workspaces.members(workspaceId: workspaceId, userId: context.user.userId)
        let invitations = try await workspaces.pendingInvitations(workspaceId: workspaceId, userId: context.user.userId)
        return EditedResponse(
            status: .ok,
            response: MembersResponse(
                data: members.map(MemberResponse.init), invitations: invitations.map(InvitationResponse.init),
                seatLimit: try await workspaces.seatLimit(workspaceId: workspaceId)
            ))
    }

    @Sendable func invite(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: InviteRequest.self, context: context)
        guard let email = try Validate.email(body.email) else { throw DomainError.missingField("email") }
        let role = try body.role.map { try Self.role($0) } ?? .member
        let invitation = try await workspaces.invite(
            workspaceId: try Validate.pathIdentifier(context), userId: context.user.userId, email: email, role: role)
        return EditedResponse(status: .created, response: InvitationResponse(invitation))
    }

    @Sendable func changeRole(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: RoleRequest.self, context: context)
        let target = try Validate.pathParameter("userId", context)
        try await workspaces.changeRole(
            workspaceId: try Validate.pathIdentifier(context), userId: context.user.userId, targetId: target,
            role: try Self.role(body.role))
        return EditedResponse(status: .ok, response: ["userId": target, "role": body.role.uppercased()])
    }

    @Sendable func removeMember(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let target = try Validate.pathParameter("userId", context)
        try await workspaces.removeMember(
            workspaceId: try Validate.pathIdentifier(context), userId: context.user.userId, targetId: target)
        return EditedResponse(status: .ok, response: ["removed": target])
    }

    @Sendable func quota(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let workspaceId = try Validate.pathIdentifier(context)
        _ = try await workspaces.authorize(.viewQuota, workspaceId: workspaceId, userId: context.user.userId)
        return EditedResponse(
            status: .ok, response: EntitlementsResponse(try await service.entitlements(customerId: workspaceId)))
    }

    @Sendable func accept(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let token = try Validate.pathParameter("token", context)
        let membership = try await workspaces.accept(
            workspaceId: try Validate.pathIdentifier(context), token: token, userId: context.user.userId)
        return EditedResponse(status: .ok, response: WorkspaceResponse(membership, seatLimit: nil))
    }

    @Sendable func transfer(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: TransferRequest.self, context: context)
        let target = try Validate.identifier(body.userId, field: "userId")
        try await workspaces.transferOwnership(
            workspaceId: try Validate.pathIdentifier(context), userId: context.user.userId, to: target)
        return EditedResponse(status: .ok, response: ["owner": target])
    }
}

struct WorkspaceResponse: Encodable {
    let id: String
    let name: String
    let role: String
    let createdAt: Date
    @NullEncoded var seatLimit: Int?

    init(_ membership: WorkspaceService.Membership, seatLimit: Int?) {
        id = membership.workspace.id
        name = membership.workspace.name
        role = membership.role.rawValue
        createdAt = membership.workspace.createdAt
        self.seatLimit = seatLimit
    }
}

struct MemberResponse: Encodable {
    let userId: String
    let email: String
    let role: String
    let joinedAt: Date

    init(_ member: MemberRecord) {
        userId = member.userId
        email = member.email
        role = member.role.rawValue
        joinedAt = member.joinedAt
    }
}

struct InvitationResponse: Encodable {
    let id: String
    let email: String
    let role: String
    let expiresAt: Date

    init(_ invitation: InvitationRecord) {
        id = invitation.id
        email = invitation.email
        role = invitation.role.rawValue
        expiresAt = invitation.expiresAt
    }
}

struct MembersResponse: Encodable {
    let data: [MemberResponse]
    let invitations: [InvitationResponse]
    @NullEncoded var seatLimit: Int?
}
