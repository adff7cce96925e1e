import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Resolves `Authorization: Bearer <access token>` (a JWT Tollgate signed) to a signed-in user.
/// An account whose address is not verified yet may only read itself, sign out and use the
/// privacy rights: whoever registered someone else's address can do nothing else with it.
struct UserAuthenticator: RouterMiddleware {
    typealias Context = TollgateRequestContext
    let accounts: AccountService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let token = try BearerToken.from(request, naming: "access token", expected: "<access token>")
        var context = context
        let user = try await accounts.authenticate(accessToken: token)
        guard user.claims.emailVerified == true || Self.openBeforeVerification(request) else {
            throw DomainError.emailNotVerified
        }
        context.user = user
        context.audit.actor(AuditActor(kind: .user, id: user.userId))
        return try await next(request, context)
    }
}

extension UserAuthenticator {
    /// What an unverified account may do: read itself and its sessions, sign out (one device or
    /// all), export or erase its data.
    static func openBeforeVerification(_ request: Request) -> Bool {
        let path = request.uri.path
        switch request.method {
        case .get: return ["/v1/me", "/v1/me/sessions", "/v1/me/export"].contains(path)
        case .post: return path == "/v1/auth/logout"
        case .delete: return path == "/v1/me" || path.hasPrefix("/v1/me/sessions/")
        default: return false
        }
    }
}

/// The credential of an `Authorization: Bearer …` header.
enum BearerToken {
    static func from(_ request: Request, naming what: String, expected: String) throws -> String {
        guard let header = request.headers[.authorization] else {
            throw DomainError(.unauthorized, "missing \(what): send Authorization: Bearer \(expected)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw DomainError(.unauthorized, "malformed Authorization header: expected Bearer \(expected)")
        }
        return String(parts[1])
    }
}
