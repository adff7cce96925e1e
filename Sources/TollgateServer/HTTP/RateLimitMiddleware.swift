import Foundation
import HTTPTypes
import Hummingbird
import TollgateCore

/// Limits the requests of one kind of caller (a secret key, an end user, an address without
/// credentials) with a token bucket each, and says so in the IETF draft's fields
/// (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "key";q=600;w=60` and
/// `RateLimit: "key";r=599;t=1` on answers; a refusal is 429 RATE_LIMITED with `Retry-After`.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = TollgateRequestContext

    /// Who is limited, under which policy name, and how much; nil lets the request through.
    struct Subject {
        let policy: String
        let key: String
        let limit: RateLimit
    }

    let limiter: RateLimiter
    let subject: @Sendable (Request, Context) async -> Subject?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let subject = await subject(request, context) else { return try await next(request, context) }
        let verdict = try await limiter.take(subject.key, limit: subject.limit)
        var response: Response
        if verdict.allowed {
            response = try await next(request, context)
        } else {
            let wait = Int(verdict.retryAfterSeconds)
            response = ErrorMiddleware<Context>.answer(
                for: DomainError(
                    .rateLimited,
                    "more than \(subject.limit.requestsPerMinute) requests a minute (\(subject.policy)); "
                        + "retry in \(wait) seconds", retryAfterSeconds: wait),
                request: request, context: context, routes: nil)
        }
        response.headers[Self.policyField] =
            "\"\(subject.policy)\";q=\(subject.limit.requestsPerMinute);w=60"
        response.headers[Self.stateField] =
            "\"\(subject.policy)\";r=\(verdict.remaining);t=\(verdict.resetSeconds)"
        return response
    }

    /// The API's routes that need no credential: a key or a token sent to them does not lift the
    /// address's limit (the user's and the key's limits apply only where they are checked).
    static func answersWithoutCredential(_ path: String) -> Bool {
        (path.hasPrefix("/v1/auth/") && path != "/v1/auth/logout") || path.hasPrefix("/v1/mail/")
            || path == "/v1/catalog" || path == "/v1/billing/webhook"
    }

    static let policyField = HTTPField.Name("RateLimit-Policy")!
    static let stateField = HTTPField.Name("RateLimit")!
}
