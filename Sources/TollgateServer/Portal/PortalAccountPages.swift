import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage
import TollgateWeb

/// The portal's workspace and security pages. Workspace forms go through `WorkspaceService`,
/// which checks the user's role in that workspace, whatever the page drew.
extension PortalPages {
    func registerAccount(on portal: RouterGroup<PortalContext>) {
        portal.get("workspace", use: workspacePage)
        portal.post("workspaces", use: createWorkspace)
        portal.post("workspaces/{id}/invite", use: invite)
        portal.post("workspaces/{id}/members/{userId}/role", use: changeRole)
        portal.post("workspaces/{id}/members/{userId}/remove", use: removeMember)
        portal.post("workspaces/{id}/transfer", use: transfer)
        // Where an invitation's e-mailed link leads.
        portal.get("join", use: joinPage)
        portal.post("join", use: join)
        portal.get("security", use: securityPage)
        portal.post("security/totp", use: beginTOTP)
        portal.post("security/totp/confirm", use: confirmTOTP)
        portal.post("security/totp/disable", use: disableTOTP)
        portal.post("password", use: changePassword)
        portal.post("email", use: changeEmail)
        portal.post("sessions/{id}/revoke", use: revokeSession)
    }

    // MARK: Workspaces

    @Sendable func workspacePage(_ request: Request, context: PortalContext) async throws -> Response {
        let frame = frame(request, context, section: "workspaces")
        return ConsoleRequest.html(
            frame.portalWorkspacePage(
                try await workspaceData(context.userId), notice: PortalRequest.notice(request, frame: frame)),
            request: request)
    }

    func workspaceData(_ userId: String) async throws -> PortalWorkspaceData {
        var spaces: [PortalWorkspaceData.Space] = []
        for membership in try await workspaces.list(userId: userId) {
            let id = membership.workspace.id
            // Every member sees the team (read only); seats and invitations are for those who manage it.
            let manages = membership.role.may(.listMembers)
            let members = try await workspaces.roster(workspaceId: id, userId: userId).map {
                PortalWorkspaceData.Member(userId: $0.userId, email: $0.email, role: $0.role)
            }
            var space = PortalWorkspaceData.Space(
                id: id, name: membership.workspace.name, role: membership.role, members: members,
                seatLimit: manages ? try await workspaces.seatLimit(workspaceId: id) : nil)
            let plan = catalog.plan(try await meter.customers.customer(id: id).planId) ?? catalog.defaultPlan
            space.planName = plan.name
            if manages {
                space.pending = try await workspaces.pendingInvitations(workspaceId: id, userId: userId).map {
                    PortalWorkspaceData.PendingInvitation(email: $0.email, role: $0.role, expiresAt: $0.expiresAt)
                }
            }
            if let limit = space.seatLimit,
                let (upgrade, seats) = Seats.upgrade(catalog: catalog, from: plan, beyond: limit)
            {
                space.seatUpgrade = (upgrade.id, upgrade.name, seats)
            }
            spaces.append(space)
        }
        return PortalWorkspaceData(spaces: spaces, userId: userId)
    }

    private static func workspaceDone(_ notice: String) -> Response {
        ConsoleRequest.seeOther("/portal/workspace?notice=\(notice)")
    }

    @Sendable func createWorkspace(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        _ = try await workspaces.create(userId: context.userId, name: try form.required("name"))
        return Self.workspaceDone("workspace_created")
    }

    @Sendable func invite(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        _ = try await workspaces.invite(
            workspaceId: try Validate.pathIdentifier(context), userId: context.userId,
            email: try form.required("email"),
            role: try WorkspaceRoutes.role(try form.required("role")))
        return Self.workspaceDone("invited")
    }

    @Sendable func changeRole(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        try await workspaces.changeRole(
            workspaceId: try Validate.pathIdentifier(context), userId: context.userId,
            targetId: try Validate.pathParameter("userId", context),
            role: try WorkspaceRoutes.role(try form.required("role")))
        return Self.workspaceDone("role_changed")
    }

    @Sendable func removeMember(_ request: Request, context: PortalContext) async throws -> Response {
        try await workspaces.removeMember(
            workspaceId: try Validate.pathIdentifier(context), userId: context.userId,
            targetId: try Validate.pathParameter("userId", context))
        return Self.workspaceDone("removed")
    }

    @Sendable func transfer(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        try await workspaces.transferOwnership(
            workspaceId: try Validate.pathIdentifier(context), userId: context.userId,
            to: try Validate.identifier(try form.required("userId"), field: "userId"))
        return Self.workspaceDone("transferred")
    }

    @Sendable func joinPage(_ request: Request, context: PortalContext) async throws -> Response {
        let frame = frame(request, context, section: "workspaces")
        let workspace = request.uri.queryParameters.get("workspace") ?? ""
        let token = request.uri.queryParameters.get("token") ?? ""
        let offer = try await workspaces.invitation(workspaceId: workspace, token: token)
        return ConsoleRequest.html(
            frame.portalJoinPage(
                workspaceId: workspace, token: token,
                offer: offer.map { ($0.workspace, $0.role, $0.inviter) }),
            request: request)
    }

    @Sendable func join(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        _ = try await workspaces.accept(
            workspaceId: try Validate.identifier(try form.required("workspace"), field: "workspace"),
            token: try form.required("token"), userId: context.userId)
        return Self.workspaceDone("joined")
    }

    // MARK: Security

    func securityData(_ context: PortalContext) async throws -> PortalSecurityData {
        let user = try await accounts.user(id: context.userId)
        let devices = try await accounts.sessions(userId: context.userId).map {
            PortalSecurityData.Device(
                id: $0.id, userAgent: $0.userAgent, ip: $0.ip, lastUsed: $0.lastUsedAt,
                isThisOne: $0.id == context.signedIn.sessionId)
        }
        var data = PortalSecurityData(devices: devices, totpEnabled: user.totpEnabledAt != nil)
        data.email = user.email
        return data
    }

    @Sendable func securityPage(_ request: Request, context: PortalContext) async throws -> Response {
        let frame = frame(request, context, section: "security")
        return ConsoleRequest.html(
            frame.portalSecurityPage(
                try await securityData(context), notice: PortalRequest.notice(request, frame: frame)),
            request: request)
    }

    /// The security page again, with `change` made to what it shows (an enrolment, codes) or an error.
    private func security(
        _ request: Request, _ context: PortalContext, status: HTTPResponse.Status = .ok, error: String? = nil,
        _ change: (inout PortalSecurityData) -> Void = { _ in }
    ) async throws -> Response {
        var data = try await securityData(context)
        change(&data)
        return ConsoleRequest.html(
            frame(request, context, section: "security").portalSecurityPage(data, error: error), status: status)
    }

    @Sendable func beginTOTP(_ request: Request, context: PortalContext) async throws -> Response {
        let enrolment = try await accounts.beginTOTP(userId: context.userId)
        return try await security(request, context) {
            $0.enrolment = PortalSecurityData.Enrolment(secret: enrolment.secret, uri: enrolment.otpauthUri)
        }
    }

    @Sendable func confirmTOTP(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        do {
            let codes = try await accounts.confirmTOTP(userId: context.userId, code: try form.required("code"))
            return try await security(request, context) { $0.recoveryCodes = codes }
        } catch let error as DomainError where error.code == .totpInvalid {
            // The same secret stays pending: the page shows it again for another try.
            let user = try await accounts.user(id: context.userId)
            let enrolment = try accounts.pendingEnrolment(user)
            return try await security(request, context, status: .badRequest, error: error.message) {
                $0.enrolment = enrolment.map { PortalSecurityData.Enrolment(secret: $0.secret, uri: $0.otpauthUri) }
            }
        }
    }

    @Sendable func disableTOTP(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        try await accounts.disableTOTP(userId: context.userId, code: try form.required("code"))
        return ConsoleRequest.seeOther("/portal/security?notice=totp_off")
    }

    @Sendable func changePassword(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        do {
            try await accounts.changePassword(
                userId: context.userId, current: try form.required("current"), new: try form.required("password"),
                keepingSession: context.signedIn.sessionId)
        } catch let error as DomainError where error.code == .invalidCredentials || error.code == .weakPassword {
            return try await security(request, context, status: .badRequest, error: error.message)
        }
        return ConsoleRequest.seeOther("/portal/security?notice=password_changed")
    }

    /// A new address: a link goes to it, and the account changes once it is followed.
    @Sendable func changeEmail(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        do {
            _ = try await accounts.requestEmailChange(
                userId: context.userId, newEmail: try form.required("email"),
                password: try form.required("email_password"))
        } catch let error as DomainError where error.code == .invalidCredentials || error.code == .invalidField {
            return try await security(request, context, status: .badRequest, error: error.message)
        }
        return ConsoleRequest.seeOther("/portal/security?notice=email_change_sent")
    }

    @Sendable func revokeSession(_ request: Request, context: PortalContext) async throws -> Response {
        try await accounts.revokeSession(userId: context.userId, sessionId: try Validate.pathIdentifier(context))
        return ConsoleRequest.seeOther("/portal/security?notice=device_signed_out")
    }
}
