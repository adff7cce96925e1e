import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Sign-up and sign-in for the product's end users (no key needed), and what a signed-in user
/// can see and change about their own account (access token needed).
struct AccountRoutes: Sendable {
    let accounts: AccountService

    func registerPublic(on router: Router<TollgateRequestContext>) {
        router.get(".well-known/jwks.json", use: jwks)
        let auth = router.group("v1/auth")
        auth.post("register", use: register)
        auth.post("login", use: login)
        auth.post("refresh", use: refresh)
        auth.post("verify-email", use: verifyEmail)
        auth.post("password-reset", use: requestPasswordReset)
        auth.post("password-reset/confirm", use: resetPassword)
        auth.post("email-change/confirm", use: confirmEmailChange)
    }

    func registerSignedIn(on me: RouterGroup<UserContext>) {
        me.get("me/workspace", use: currentWorkspace)
        me.post("auth/logout", use: logout)
        me.get("me", use: profile)
        me.patch("me", use: updateProfile)
        me.post("me/password", use: changePassword)
        me.post("me/email", use: requestEmailChange)
        me.get("me/sessions", use: sessions)
        me.delete("me/sessions/{id}", use: revokeSession)
        me.post("me/2fa/totp", use: beginTOTP)
        me.post("me/2fa/totp/confirm", use: confirmTOTP)
        me.post("me/2fa/totp/disable", use: disableTOTP)
    }

    struct Credentials: Decodable {
        let email: String
        let password: String
        let totp: String?
    }

    struct EmailChangeRequest: Decodable {
        let email: String
        let password: String
    }

    /// A confirmation link to the new address; the account keeps its address until it is followed.
    @Sendable func requestEmailChange(_ request: Request, context: UserContext) async throws
        -> some ResponseGenerator
    {
        let body = try await request.decode(as: EmailChangeRequest.self, context: context)
        let email = try await accounts.requestEmailChange(
            userId: context.user.userId, newEmail: body.email,
            password: try Validate.optionalText(body.password, field: "password", maximum: 1024) ?? "")
        return EditedResponse(status: .accepted, response: ["email": email, "status": "confirmation_sent"])
    }

    /// The link from the new address's mailbox: the account takes that address.
    @Sendable func confirmEmailChange(_ request: Request, context: TollgateRequestContext) async throws
        -> some ResponseGenerator
    {
        let body = try await request.decode(as: TokenRequest.self, context: context)
        let (userId, email) = try await accounts.confirmEmailChange(
            token: try Validate.identifier(body.token, field: "token"))
        return EditedResponse(status: .ok, response: EmailChanged(email: email, emailVerified: true))
    }

    struct EmailChanged: ResponseEncodable {
        let email: String
        let emailVerified: Bool
    }

    struct RegisterRequest: Decodable {
        let email: String
        let password: String
        let locale: String?
    }

    struct TokenRequest: Decodable { let token: String }
    struct RefreshRequest: Decodable {
        let refreshToken: String
        /// Absent: keep the session's workspace; null: none; an id: select it.
        let workspace: AccountService.WorkspaceSelection

        private enum CodingKeys: String, CodingKey { case refreshToken, workspace }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            refreshToken = try container.decode(String.self, forKey: .refreshToken)
            if !container.contains(.workspace) {
                workspace = .keep
            } else if try container.decodeNil(forKey: .workspace) {
                workspace = .clear
            } else {
                workspace = .select(
                    try Validate.identifier(try container.decode(String.self, forKey: .workspace), field: "workspace"))
            }
        }
    }
    struct EmailRequest: Decodable { let email: String }
    struct ResetRequest: Decodable {
        let token: String
        let password: String
    }
    struct CodeRequest: Decodable { let code: String }

    @Sendable func jwks(_ request: Request, context: TollgateRequestContext) async throws -> some ResponseGenerator {
        EditedResponse(status: .ok, response: accounts.jwks())
    }

    @Sendable func register(_ request: Request, context: TollgateRequestContext) async throws -> some ResponseGenerator
    {
        let body = try await request.decode(as: RegisterRequest.self, context: context)
        guard let email = try Validate.email(body.email) else { throw DomainError.missingField("email") }
        try await accounts.register(
            email: email, password: body.password, locale: try Validate.locale(body.locale),
            client: ClientInfo(address: context.clientAddress, userAgent: nil))
        // The same answer whether or not the address already had an account.
        return EditedResponse(
            status: .accepted, response: RegistrationResponse(email: email.lowercased(), status: "verification_sent"))
    }

    struct RegistrationResponse: ResponseEncodable {
        let email: String
        let status: String
    }

    @Sendable func login(_ request: Request, context: TollgateRequestContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: Credentials.self, context: context)
        let email = try Validate.optionalText(body.email, field: "email", maximum: 320) ?? ""
        let password = try Validate.optionalText(body.password, field: "password", maximum: 1024) ?? ""
        let totp = try Validate.optionalText(body.totp, field: "totp", maximum: 32)
        let pair = try await context.audit.signIn(as: .user, email: email) {
            try await accounts.login(
                email: email, password: password, totp: totp,
                client: ClientInfo(address: context.clientAddress, userAgent: request.headers[.userAgent]))
        } account: {
            try await accounts.authenticate(accessToken: $0.accessToken).userId
        }
        return EditedResponse(status: .ok, response: pair)
    }

    @Sendable func refresh(_ request: Request, context: TollgateRequestContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: RefreshRequest.self, context: context)
        let token = try Validate.identifier(body.refreshToken, field: "refreshToken")
        return EditedResponse(
            status: .ok, response: try await accounts.refresh(refreshToken: token, workspace: body.workspace))
    }

    @Sendable func verifyEmail(_ request: Request, context: TollgateRequestContext) async throws
        -> some ResponseGenerator
    {
        let body = try await request.decode(as: TokenRequest.self, context: context)
        try await accounts.verifyEmail(token: try Validate.identifier(body.token, field: "token"))
        return EditedResponse(status: .ok, response: ["emailVerified": true])
    }

    @Sendable func requestPasswordReset(_ request: Request, context: TollgateRequestContext) async throws
        -> some ResponseGenerator
    {
        let body = try await request.decode(as: EmailRequest.self, context: context)
        guard let email = try Validate.email(body.email) else { throw DomainError.missingField("email") }
        try await accounts.requestPasswordReset(
            email: email, client: ClientInfo(address: context.clientAddress, userAgent: nil))
        return EditedResponse(
            status: .accepted, response: ["status": "if an account uses this address, a reset link is on its way"])
    }

    @Sendable func resetPassword(_ request: Request, context: TollgateRequestContext) async throws
        -> some ResponseGenerator
    {
        let body = try await request.decode(as: ResetRequest.self, context: context)
        try await accounts.resetPassword(
            token: try Validate.identifier(body.token, field: "token"), newPassword: body.password)
        return EditedResponse(status: .ok, response: ["passwordChanged": true])
    }

    @Sendable func logout(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        try await accounts.signOut(userId: context.user.userId, sessionId: context.user.sessionId)
        return EditedResponse(status: .ok, response: ["signedOut": true])
    }

    /// The workspace and role in this access token, as the product would read them.
    @Sendable func currentWorkspace(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        EditedResponse(
            status: .ok,
            response: CurrentWorkspaceResponse(
                workspace: context.user.claims.workspace, role: context.user.claims.role, plan: context.user.claims.plan
            ))
    }

    @Sendable func profile(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let user = try await accounts.user(id: context.user.userId)
        let customer = try await accounts.profile(userId: user.id)
        return EditedResponse(
            status: .ok, response: UserResponse(user, plan: context.user.claims.plan, customer: customer))
    }

    struct ProfileChange: Decodable {
        let name: String?
        let locale: String?
    }

    /// The user's own name and the language of their e-mail.
    @Sendable func updateProfile(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: ProfileChange.self, context: context)
        let customer = try await accounts.updateProfile(
            userId: context.user.userId, name: body.name, locale: try Validate.locale(body.locale))
        let user = try await accounts.user(id: context.user.userId)
        return EditedResponse(
            status: .ok, response: UserResponse(user, plan: context.user.claims.plan, customer: customer))
    }

    struct PasswordChange: Decodable {
        let currentPassword: String
        let newPassword: String
    }

    /// A new password, given the current one; every other session of the user is signed out.
    @Sendable func changePassword(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: PasswordChange.self, context: context)
        do {
            try await accounts.changePassword(
                userId: context.user.userId,
                current: try Validate.optionalText(body.currentPassword, field: "currentPassword") ?? "",
                new: try Validate.optionalText(body.newPassword, field: "newPassword") ?? "",
                keepingSession: context.user.sessionId)
        } catch let error as DomainError where error.code == .weakPassword {
            throw DomainError(.weakPassword, error.message, field: "newPassword")
        }
        return EditedResponse(status: .ok, response: ["passwordChanged": true, "otherSessionsSignedOut": true])
    }

    @Sendable func sessions(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let sessions = try await accounts.sessions(userId: context.user.userId)
        return EditedResponse(
            status: .ok,
            response: ListResponse(data: sessions.map { SessionResponse($0, current: $0.id == context.user.sessionId) })
        )
    }

    @Sendable func revokeSession(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        try await accounts.revokeSession(userId: context.user.userId, sessionId: id)
        return RevokedResponse(revoked: id)
    }

    @Sendable func beginTOTP(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        EditedResponse(status: .ok, response: try await accounts.beginTOTP(userId: context.user.userId))
    }

    @Sendable func confirmTOTP(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: CodeRequest.self, context: context)
        let codes = try await accounts.confirmTOTP(
            userId: context.user.userId, code: try Validate.identifier(body.code, field: "code"))
        return EditedResponse(status: .ok, response: ["recoveryCodes": codes])
    }

    @Sendable func disableTOTP(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: CodeRequest.self, context: context)
        try await accounts.disableTOTP(
            userId: context.user.userId, code: try Validate.identifier(body.code, field: "code"))
        return EditedResponse(status: .ok, response: ["twoFactor": false])
    }
}

struct UserResponse: Encodable {
    let id: String
    let email: String
    let emailVerified: Bool
    let twoFactor: Bool
    let plan: String?
    let createdAt: Date

    @NullEncoded var name: String?
    @NullEncoded var locale: String?

    init(_ user: UserRecord, plan: String?, customer: CustomerRecord? = nil) {
        id = user.id
        email = user.email
        emailVerified = user.emailVerifiedAt != nil
        twoFactor = user.totpEnabledAt != nil
        self.plan = plan
        createdAt = user.createdAt
        name = customer?.name
        locale = customer?.locale
    }
}

struct SessionResponse: Encodable {
    let id: String
    let current: Bool
    let createdAt: Date
    let lastUsedAt: Date
    let expiresAt: Date
    @NullEncoded var userAgent: String?
    @NullEncoded var ip: String?

    init(_ session: SessionRecord, current: Bool) {
        id = session.id
        self.current = current
        createdAt = session.createdAt
        lastUsedAt = session.lastUsedAt
        expiresAt = session.expiresAt
        userAgent = session.userAgent
        ip = session.ip
    }
}

struct CurrentWorkspaceResponse: Encodable {
    @NullEncoded var workspace: String?
    @NullEncoded var role: String?
    let plan: String
}

/// A signed-out session: which one.
struct RevokedResponse: Encodable {
    let revoked: String
}
