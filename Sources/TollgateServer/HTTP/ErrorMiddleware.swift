import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization
import TollgateCore
import TollgateMeter

/// The one place where errors become HTTP: every failure leaves as
/// `{"error": {"code", "message", "field"?}}`. Unexpected errors are logged with their cause and
/// shown to the client only as INTERNAL.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The methods each route serves, to answer a known path's unserved method with 405 and
    /// `Allow` (the router itself answers 404).
    let routes: RouteMethods?

    public init() { routes = nil }

    init(routes: RouteMethods) { self.routes = routes }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            return Self.answer(for: error, request: request, context: context, routes: routes)
        }
    }

    /// The error's answer, encoded by the context's `responseEncoder` like every other answer.
    static func answer(for error: any Error, request: Request, context: Context, routes: RouteMethods?)
        -> Response
    {
        let answer: ErrorAnswer
        switch error {
        case let error as DomainError: answer = ErrorAnswer(error)
        case let refusal as UsageRefusal: answer = ErrorAnswer(refusal)
        case let error as HTTPOnlyError: answer = ErrorAnswer(error)
        case let error as HTTPError:
            let allowed = error.status == .notFound ? routes?.methods(for: request.uri.path) ?? [] : []
            switch translate(error, request: request, allowed: allowed) {
            case .domain(let error): answer = ErrorAnswer(error)
            case .http(let error): answer = ErrorAnswer(error)
            }
        case let error as MeterError:
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            answer = ErrorAnswer(
                DomainError(
                    .unavailable,
                    "the usage could not be recorded durably; nothing was counted, retry with the same idempotency key")
            )
        default:
            context.logger.error(
                "unexpected error", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            answer = ErrorAnswer(DomainError(.internalError, "internal error"))
        }
        do {
            return try answer.response(from: request, context: context)
        } catch {
            // Encoding our own error types cannot fail; if it ever does, say so rather than crash.
            context.logger.error("error answer not encodable", metadata: ["error": "\(error)"])
            return RawJSON(#"{"error":{"code":"INTERNAL","message":"internal error"}}"#).response(
                status: .internalServerError)
        }
    }

    enum Translated {
        case domain(DomainError)
        case http(HTTPOnlyError)
    }

    /// The router's and Hummingbird's own errors in Tollgate's terms. A 404 on a path the router
    /// serves with other methods (`allowed`) is a 405 with `Allow`.
    static func translate(_ error: HTTPError, request: Request, allowed: [String]) -> Translated {
        switch error.status {
        case .notFound where !allowed.isEmpty:
            return .http(
                HTTPOnlyError(
                    .methodNotAllowed,
                    "\(request.method) is not allowed on \(request.uri.path): use \(allowed.joined(separator: ", "))",
                    allow: allowed))
        case .notFound: return .domain(DomainError(.notFound, "no route \(request.method) \(request.uri.path)"))
        case .methodNotAllowed:
            return .http(HTTPOnlyError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path)"))
        case .contentTooLarge: return .http(HTTPOnlyError(.payloadTooLarge, "request body too large"))
        case .unauthorized: return .domain(DomainError(.unauthorized, error.body ?? "unauthorized"))
        case .forbidden: return .domain(DomainError(.forbidden, error.body ?? "forbidden"))
        case .badRequest: return .domain(DomainError(.invalidJSON, error.body ?? "bad request"))
        default:
            if error.status.code >= 500 { return .domain(DomainError(.internalError, "internal error")) }
            return .domain(DomainError(.invalidField, error.body ?? error.status.reasonPhrase))
        }
    }

}

/// An error's answer: its status, its JSON body and the headers it carries (`Retry-After`, `Allow`).
struct ErrorAnswer: ResponseGenerator {
    let status: HTTPResponse.Status
    let body: any ResponseEncodable
    var headers = HTTPFields()

    init(_ error: DomainError) {
        status = HTTPStatusMapping.status(for: error.code)
        body = ErrorEnvelope(error)
        if let retryAfter = error.retryAfterSeconds { headers[.retryAfter] = String(retryAfter) }
    }

    init(_ error: HTTPOnlyError) {
        status = error.code.status
        body = ErrorEnvelope(error: error.body)
        if !error.allow.isEmpty { headers[.allow] = error.allow.joined(separator: ", ") }
    }

    /// A refused consume: the answer itself (allowed false, reason, upgrade tier) and its error.
    init(_ refusal: UsageRefusal) {
        status = HTTPStatusMapping.status(for: refusal.error.code)
        body = RefusedOutcomeResponse(outcome: refusal.outcome, error: refusal.error.body)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try body.response(from: request, context: context)
        response.status = status
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// The methods served on each path template, filled once the router is built.
final class RouteMethods: Sendable {
    private let table = Mutex<[(segments: [Substring], methods: Set<String>)]>([])

    func record(_ routes: [(method: String, path: String)]) {
        var byPath: [String: Set<String>] = [:]
        for route in routes { byPath[route.path, default: []].insert(route.method) }
        table.withLock { table in
            table = byPath.map { path, methods in (path.split(separator: "/"), methods) }
        }
    }

    /// The methods of the route whose template matches `path`, sorted; empty when none does.
    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        let matching = table.withLock { table in
            table.filter { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { template, segment in
                        template == segment || (template.hasPrefix("{") && template.hasSuffix("}"))
                    }
            }
        }
        // The most literal templates name the resource (`…/members/invite`, not `…/members/{userId}`
        // read with the id "invite"), as the document lists it.
        func literals(_ route: (segments: [Substring], methods: Set<String>)) -> Int {
            route.segments.filter { !$0.hasPrefix("{") }.count
        }
        let best = matching.map(literals).max()
        return matching.filter { literals($0) == best }.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
            .sorted()
    }
}

enum HTTPStatusMapping {
    static func status(for code: ErrorCode) -> HTTPResponse.Status {
        switch code {
        case .invalidJSON, .missingField, .invalidField, .weakPassword, .invalidSignature:
            return .badRequest
        case .unauthorized, .invalidCredentials, .totpRequired, .totpInvalid, .invalidToken: return .unauthorized
        case .forbidden, .emailNotVerified: return .forbidden
        case .notFound, .customerNotFound, .featureNotFound, .planNotFound, .reservationNotFound: return .notFound
        case .insufficientCredits: return .init(code: 402, reasonPhrase: "Payment Required")
        case .conflict, .idempotencyKeyReused, .emailTaken, .seatLimitReached: return .conflict
        case .tierLimited, .userQuotaExhausted, .workspaceQuotaExhausted, .tooManyAttempts, .rateLimited:
            return .tooManyRequests
        case .unavailable: return .serviceUnavailable
        case .internalError: return .internalServerError
        }
    }
}

/// Errors only HTTP has — about the request's form, never the domain's rules — with the codes
/// clients already know.
struct HTTPOnlyError: Error {
    enum Code: String {
        case invalidQuery = "INVALID_QUERY"
        case methodNotAllowed = "METHOD_NOT_ALLOWED"
        case payloadTooLarge = "PAYLOAD_TOO_LARGE"

        var status: HTTPResponse.Status {
            switch self {
            case .invalidQuery: return .badRequest
            case .methodNotAllowed: return .methodNotAllowed
            case .payloadTooLarge: return .contentTooLarge
            }
        }
    }

    let code: Code
    let message: String
    let field: String?
    /// The methods the path does serve, for a 405's `Allow`.
    let allow: [String]

    init(_ code: Code, _ message: String, field: String? = nil, allow: [String] = []) {
        self.code = code
        self.message = message
        self.field = field
        self.allow = allow
    }

    var body: ErrorBody { ErrorBody(code: code.rawValue, message: message, field: field) }
}

/// A consume the meter refused: thrown by the route, answered by `ErrorMiddleware` with the
/// outcome and an error whose code is the refusal's reason (402 when credits ran short, else 429).
struct UsageRefusal: Error {
    let outcome: UsageOutcome
    let error: DomainError

    init(_ outcome: UsageOutcome) {
        self.outcome = outcome
        let reason = outcome.reason ?? .userQuotaExhausted
        let upgrade = outcome.upgradeTier.map { " Upgrade to \($0) for more." } ?? ""
        let message: String
        let field: String
        switch reason {
        case .tierLimited:
            (message, field) = (
                "the \(outcome.feature) feature is not included in the customer's plan.\(upgrade)", "feature"
            )
        case .workspaceQuotaExhausted:
            (message, field) = (
                """
                the workspace's shared \(outcome.feature) quota is used up; ask a workspace admin to upgrade or \
                buy more
                """,
                "feature"
            )
        case .userQuotaExhausted:
            let until = outcome.resetsAt.map { ISO8601DateFormatter().string(from: $0) } ?? "an upgrade"
            (message, field) = (
                "the customer's \(outcome.feature) quota is used up until \(until).\(upgrade)", "feature"
            )
        case .insufficientCredits:
            (message, field) = ("the customer's credits do not cover \(outcome.amount) \(outcome.feature)", "amount")
        }
        error = DomainError(reason.errorCode, message, field: field)
    }
}

struct ErrorBody: Encodable, Sendable {
    let code: String
    let message: String
    let field: String?
}

extension DomainError {
    var body: ErrorBody { ErrorBody(code: code.rawValue, message: message, field: field) }
}

struct ErrorEnvelope: Encodable {
    let error: ErrorBody

    init(_ error: DomainError) {
        self.error = error.body
    }

    init(error: ErrorBody) { self.error = error }
}
