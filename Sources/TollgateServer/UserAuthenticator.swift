import Hummingbird
import TollgateCore
import TollgateIdentity

/// Resolves `Authorization: Bearer <access token>` (a JWT Tollgate signed) to a signed-in user.
struct UserAuthenticator: RouterMiddleware {
    typealias Context = TollgateRequestContext
    let accounts: AccountService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw DomainError(.unauthorized, "missing access token: send Authorization: Bearer <access token>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw DomainError(.unauthorized, "malformed Authorization header: expected Bearer <access token>")
        }
        var context = context
        context.user = try await accounts.authenticate(accessToken: String(parts[1]))
        return try await next(request, context)
    }
}
