import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TollgateCore
import TollgateMeter

/// The one place where errors become HTTP: every failure leaves as
/// `{"error": {"code", "message", "field"?}}`. Unexpected errors are logged with their cause and
/// shown to the client only as INTERNAL.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as DomainError {
            return Self.response(for: error)
        } catch let error as HTTPError {
            return Self.response(for: Self.domainError(from: error, request: request))
        } catch let error as MeterError {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return Self.response(
                for: DomainError(
                    .unavailable,
                    "the usage could not be recorded durably; nothing was counted, retry with the same idempotency key")
            )
        } catch {
            context.logger.error(
                "unexpected error", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            return Self.response(for: DomainError(.internalError, "internal error"))
        }
    }

    static func domainError(from error: HTTPError, request: Request) -> DomainError {
        switch error.status {
        case .notFound: return DomainError(.notFound, "no route \(request.method) \(request.uri.path)")
        case .methodNotAllowed:
            return DomainError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path)")
        case .contentTooLarge: return DomainError(.payloadTooLarge, "request body too large")
        case .unauthorized: return DomainError(.unauthorized, error.body ?? "unauthorized")
        case .forbidden: return DomainError(.forbidden, error.body ?? "forbidden")
        case .badRequest: return DomainError(.invalidJSON, error.body ?? "bad request")
        default:
            if error.status.code >= 500 { return DomainError(.internalError, "internal error") }
            return DomainError(.invalidField, error.body ?? error.status.reasonPhrase)
        }
    }

    static func response(for error: DomainError) -> Response {
        var response = JSONResponse.make(status: HTTPStatusMapping.status(for: error.code), body: ErrorEnvelope(error))
        if let seconds = error.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
        return response
    }
}

enum HTTPStatusMapping {
    static func status(for code: ErrorCode) -> HTTPResponse.Status {
        switch code {
        case .invalidJSON, .missingField, .invalidField, .invalidQuery, .weakPassword, .invalidSignature:
            return .badRequest
        case .unauthorized, .invalidCredentials, .totpRequired, .totpInvalid, .invalidToken: return .unauthorized
        case .forbidden: return .forbidden
        case .notFound, .customerNotFound, .featureNotFound, .planNotFound, .reservationNotFound: return .notFound
        case .insufficientCredits: return .init(code: 402, reasonPhrase: "Payment Required")
        case .methodNotAllowed: return .methodNotAllowed
        case .conflict, .idempotencyKeyReused, .emailTaken, .seatLimitReached: return .conflict
        case .payloadTooLarge: return .contentTooLarge
        case .tierLimited, .userQuotaExhausted, .workspaceQuotaExhausted, .tooManyAttempts: return .tooManyRequests
        case .unavailable: return .serviceUnavailable
        case .internalError: return .internalServerError
        }
    }
}

struct ErrorBody: Encodable, Sendable {
    let code: String
    let message: String
    let field: String?
}

struct ErrorEnvelope: Encodable {
    let error: ErrorBody

    init(_ error: DomainError) {
        self.error = ErrorBody(code: error.code.rawValue, message: error.message, field: error.field)
    }

    init(error: ErrorBody) { self.error = error }
}

enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func make(status: HTTPResponse.Status, body: some Encodable) -> Response {
        make(status: status, json: ByteBuffer(bytes: encoded(body)))
    }

    /// Sorted-key JSON of `body`, as every response is written.
    static func encoded(_ body: some Encodable) -> Data {
        // Encoding our own response types cannot fail; if it ever does, say so rather than crash.
        (try? encoder.encode(body)) ?? Data(#"{"error":{"code":"INTERNAL","message":"internal error"}}"#.utf8)
    }

    /// A usage answer, written directly (`UsageOutcome.storedJSON`, the same bytes the encoder
    /// would write): the meter's routes answer thousands of these a second.
    static func make(status: HTTPResponse.Status, outcome: UsageOutcome) -> Response {
        make(status: status, json: ByteBuffer(string: outcome.storedJSON))
    }

    static func make(status: HTTPResponse.Status, json: ByteBuffer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: json))
    }
}
