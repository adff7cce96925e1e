import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Resolves `Authorization: Bearer <access token>` (a JWT Tollgate signed) to a signed-in user.
struct UserAuthenticator: RouterMiddleware {
    typealias Context = TollgateRequestContext
    let accounts: AccountService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let token = try BearerToken.from(request, naming: "access token", expected: "<access token>")
        var context = context
        let user = try await accounts.authenticate(accessToken: token)
        context.user = user
        context.audit.actor(AuditActor(kind: .user, id: user.userId))
        return try await next(request, context)
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
