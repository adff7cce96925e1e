/// Stable, machine-readable error codes. Clients switch on these; never rename one.
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    case invalidJSON = "INVALID_JSON"
    case missingField = "MISSING_FIELD"
    case invalidField = "INVALID_FIELD"
    case unauthorized = "UNAUTHORIZED"
    case forbidden = "FORBIDDEN"
    case notFound = "NOT_FOUND"
    case customerNotFound = "CUSTOMER_NOT_FOUND"
    case featureNotFound = "FEATURE_NOT_FOUND"
    case planNotFound = "PLAN_NOT_FOUND"
    case conflict = "CONFLICT"
    case idempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"
    case tierLimited = "TIER_LIMITED"
    case userQuotaExhausted = "USER_QUOTA_EXHAUSTED"
    case workspaceQuotaExhausted = "WORKSPACE_QUOTA_EXHAUSTED"
    case weakPassword = "WEAK_PASSWORD"
    case emailTaken = "EMAIL_TAKEN"
    case invalidCredentials = "INVALID_CREDENTIALS"
    case totpRequired = "TOTP_REQUIRED"
    case totpInvalid = "TOTP_INVALID"
    case invalidToken = "INVALID_TOKEN"
    case tooManyAttempts = "TOO_MANY_ATTEMPTS"
    case rateLimited = "RATE_LIMITED"
    case seatLimitReached = "SEAT_LIMIT_REACHED"
    case insufficientCredits = "INSUFFICIENT_CREDITS"
    case reservationNotFound = "RESERVATION_NOT_FOUND"
    case invalidSignature = "INVALID_SIGNATURE"
    case emailNotVerified = "EMAIL_NOT_VERIFIED"
    case unavailable = "UNAVAILABLE"
    case internalError = "INTERNAL"
}

/// The one error type of the domain layer. `field` names the offending input, when there is one.
public struct DomainError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: ErrorCode
    public let message: String
    public let field: String?
    /// For throttling: when the caller may try again.
    public let retryAfterSeconds: Int?

    public init(_ code: ErrorCode, _ message: String, field: String? = nil, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func invalidField(_ field: String, _ message: String) -> DomainError {
        DomainError(.invalidField, "\(field): \(message)", field: field)
    }

    /// A signed-in account whose address is not verified yet, asking for more than verifying it.
    public static let emailNotVerified = DomainError(
        .emailNotVerified, "confirm your e-mail address first: follow the link we sent, or reset your password")

    public static func missingField(_ field: String) -> DomainError {
        DomainError(.missingField, "\(field) is required", field: field)
    }
}
