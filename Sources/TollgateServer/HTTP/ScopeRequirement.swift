import Hummingbird
import TollgateCore
import TollgateIdentity

/// Refuses a request whose API key lacks `scope` (403), before the handler reads anything. Every
/// route of the product API sits in a group that names its scope (`RouterGroup.requiring`), so a
/// route cannot be added without an authorization decision; `AuthorizationTableTests` holds the
/// whole table.
struct ScopeRequirement: RouterMiddleware {
    typealias Context = AuthenticatedContext
    let scope: Scope

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        try context.caller.require(scope)
        return try await next(request, context)
    }
}

extension RouterGroup where Context == AuthenticatedContext {
    /// The routes added to the returned group need `scope` (or `admin`).
    func requiring(_ scope: Scope) -> RouterGroup<Context> {
        group().add(middleware: ScopeRequirement(scope: scope))
    }
}
