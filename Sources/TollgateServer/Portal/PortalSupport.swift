import Foundation
import HTTPTypes
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateStorage
import TollgateWeb

/// An end user signed in to the portal: their account, the session their cookie names, and the
/// CSRF token of that session's forms.
public struct PortalSignedIn: Sendable {
    public let user: UserRecord
    public let sessionId: String
    public let csrfToken: String
}

/// The context of portal pages that need a session: handlers get a non-optional user.
struct PortalContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let signedIn: PortalSignedIn
    let clientAddress: String
    let audit: AuditNote

    init(context: TollgateRequestContext) throws {
        guard let signedIn = context.portal else { throw DomainError(.unauthorized, "sign in to the portal") }
        coreContext = context.coreContext
        self.signedIn = signedIn
        clientAddress = context.clientAddress
        audit = context.audit
    }

    var userId: String { signedIn.user.id }
}

/// The portal's cookie: the session's id and a MAC of it under the master key, so that nothing
/// but a session this server opened passes, and signing the session out (on the security page,
/// or through the API) ends the cookie too. The CSRF token is another MAC of the same id.
struct PortalCookie: Sendable {
    static let name = "tg_portal"
    let box: SecretBox
    /// `Secure` when the portal is reached over https.
    let secure: Bool

    func value(sessionId: String) -> String {
        sessionId + "." + box.authenticationCode(sessionId, purpose: "tollgate portal session")
    }

    func sessionId(_ value: String) -> String? {
        guard let dot = value.lastIndex(of: ".") else { return nil }
        let id = String(value[..<dot])
        let code = String(value[value.index(after: dot)...])
        return constantTimeEquals(code, box.authenticationCode(id, purpose: "tollgate portal session")) ? id : nil
    }

    func csrfToken(sessionId: String) -> String {
        box.authenticationCode(sessionId, purpose: "tollgate portal form")
    }

    /// `Lax`, not `Strict`: a product's "upgrade" link and an e-mailed link open the portal
    /// signed in; a form posted from elsewhere still lacks the CSRF token.
    func cookie(sessionId: String?) -> Cookie {
        Cookie(
            name: Self.name, value: sessionId.map { value(sessionId: $0) } ?? "", maxAge: sessionId == nil ? 0 : nil,
            path: "/", secure: secure, httpOnly: true, sameSite: .lax)
    }
}

/// Resolves the portal cookie into `context.portal` on every request it guards. `required`:
/// without a live session a page redirects to the sign-in page (and back afterwards), a form is
/// refused; otherwise (the pricing page) the request goes on signed out.
struct PortalAuthenticator: RouterMiddleware {
    typealias Context = TollgateRequestContext
    let accounts: AccountService
    let cookie: PortalCookie
    let required: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if let value = request.cookies[PortalCookie.name]?.value, let id = cookie.sessionId(value),
            let (user, session) = try await accounts.liveSession(id: id)
        {
            // Until the address is verified the portal only shows: no form but signing out
            // changes anything (no second factor, no workspace, no e-mail change, no plan).
            guard user.emailVerifiedAt != nil || Self.openBeforeVerification(request) else {
                throw DomainError.emailNotVerified
            }
            var context = context
            context.portal = PortalSignedIn(
                user: user, sessionId: session.id, csrfToken: cookie.csrfToken(sessionId: session.id))
            context.audit.actor(AuditActor(kind: .user, id: user.id))
            return try await next(request, context)
        }
        guard required else { return try await next(request, context) }
        guard request.method == .get || request.method == .head else {
            throw DomainError(.unauthorized, "your session has ended: sign in again")
        }
        var target = request.uri.path
        if let query = request.uri.query, !query.isEmpty { target += "?" + query }
        return Response.redirect(to: "/portal/login" + Paths.query([("next", target)]), type: .normal)
    }
}

extension PortalAuthenticator {
    static func openBeforeVerification(_ request: Request) -> Bool {
        let path = request.uri.path
        return request.method == .get || request.method == .head || path == "/portal/logout"
            || (path.hasPrefix("/portal/sessions/") && path.hasSuffix("/revoke"))
    }
}

/// Refuses a portal form without its session's CSRF token (403), before the handler runs.
struct PortalFormGuard: RouterMiddleware {
    typealias Context = PortalContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var request = request
        if request.method == .post {
            let form = try await FormFields.read(&request, context: context)
            guard let token = form.first("csrf"), constantTimeEquals(token, context.signedIn.csrfToken) else {
                throw DomainError(.forbidden, "the form's CSRF token is missing or wrong: open the page again")
            }
        }
        return try await next(request, context)
    }
}

/// What portal handlers share: the page frame and where a form goes back to.
enum PortalRequest {
    static func frame(_ request: Request, signedIn: PortalSignedIn?, productName: String, section: String)
        -> ConsoleFrame
    {
        ConsoleFrame.portal(
            locale: ConsoleRequest.locale(request), userEmail: signedIn?.user.email, csrfToken: signedIn?.csrfToken,
            section: section, path: ConsoleRequest.pagePath(request), productName: productName)
    }

    /// A portal path to go to after signing in; anything else (another site, `//host`) is ignored.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/portal"), !next.hasPrefix("//"), !next.contains("\\"), next.utf8.count <= 512,
            !next.unicodeScalars.contains(where: \.isControlCharacter)
        else { return "/portal" }
        return next
    }

    /// The page a failed form on `/portal/<section>/…` goes back to.
    static func back(from section: String?) -> String {
        switch section {
        case "workspaces", "workspace", "join": return "/portal/workspace"
        case "security", "password", "sessions": return "/portal/security"
        case "upgrade": return "/portal/upgrade"
        case "login", "signup", "verify-email", "reset-password": return "/portal/login"
        default: return "/portal"
        }
    }

    /// A page's notice from `?notice=`: only words of the lexicon, never the query's text.
    static func notice(_ request: Request, frame: ConsoleFrame) -> String? {
        frame.notice(request.uri.queryParameters.get("notice"))
    }
}
