import Foundation
import Logging
import TollgateCore
import TollgateStorage

/// Two-factor authentication: TOTP enrolment, confirmation and removal, and recovery codes.
extension AccountService {
    // MARK: Two-factor authentication

    public struct Enrolment: Sendable, Encodable {
        public let secret: String
        public let otpauthUri: String
    }

    /// Starts TOTP enrolment: a new seed, sealed at rest, not enforced until confirmed.
    public func beginTOTP(userId: String) async throws -> Enrolment {
        let user = try await verifiedUser(id: userId)
        guard user.totpEnabledAt == nil else {
            throw DomainError(.conflict, "two-factor authentication is already on; turn it off first")
        }
        let totp = TOTP(secret: TOTP.generateSecret())
        let sealed = try box.seal(totp.secret)
        let now = clock.now()
        try await store.transaction { tx in
            try await tx.setPendingTOTP(userId: userId, sealedSecret: sealed, at: now)
            try await Self.record("auth.totp_enrolment_started", userId, in: tx)
        }
        return Enrolment(
            secret: Base32.encode(totp.secret),
            otpauthUri: totp.provisioningURI(
                account: user.email, issuer: settings.authenticatorIssuer ?? settings.audience))
    }

    /// The enrolment begun and not yet confirmed, to show its secret again after a wrong code.
    public func pendingEnrolment(_ user: UserRecord) throws -> Enrolment? {
        guard user.totpEnabledAt == nil, let sealed = user.totpSecret else { return nil }
        let totp = TOTP(secret: try box.open(sealed))
        return Enrolment(
            secret: Base32.encode(totp.secret),
            otpauthUri: totp.provisioningURI(
                account: user.email, issuer: settings.authenticatorIssuer ?? settings.audience))
    }

    /// Confirms enrolment with a first code; returns ten single-use recovery codes, shown once.
    public func confirmTOTP(userId: String, code: String) async throws -> [String] {
        let user = try await verifiedUser(id: userId)
        guard user.totpEnabledAt == nil, let sealed = user.totpSecret else {
            throw DomainError(.conflict, "no two-factor enrolment is in progress")
        }
        let now = clock.now()
        let throttleKey = "totp:\(userId)"
        try await limiter.check(throttleKey, rule: settings.accountRule, now: now)
        guard let step = TOTP(secret: try box.open(sealed)).matchingStep(code, at: now) else {
            try await limiter.recordFailure(throttleKey, at: now)
            throw DomainError(
                .totpInvalid, "the code does not match; check the authenticator app's clock", field: "code")
        }
        let codes = (0..<10).map { _ in Self.recoveryCode() }
        let notice = try await notice("two_factor_enabled", to: user, now: now)
        try await store.transaction { tx in
            try await tx.enableTOTP(
                userId: userId, step: step, recoveryCodeHashes: codes.map(OpaqueDigest.hex), at: now, outbox: [notice])
            try await Self.record("auth.totp_enabled", userId, in: tx)
        }
        return codes
    }

    /// Turns TOTP off; needs a valid code (or a recovery code) so a stolen session cannot do it.
    public func disableTOTP(userId: String, code: String) async throws {
        let user = try await user(id: userId)
        guard user.totpEnabledAt != nil else { throw DomainError(.conflict, "two-factor authentication is not on") }
        let now = clock.now()
        let throttleKey = "totp:\(userId)"
        try await limiter.check(throttleKey, rule: settings.accountRule, now: now)
        guard try await acceptSecondFactor(code, user: user, now: now) else {
            try await limiter.recordFailure(throttleKey, at: now)
            throw DomainError(.totpInvalid, "the two-factor code is wrong or was already used", field: "code")
        }
        let notice = try await notice("two_factor_disabled", to: user, now: now)
        try await store.transaction { tx in
            try await tx.disableTOTP(userId: userId, at: now, outbox: [notice])
            try await Self.record("auth.totp_disabled", userId, in: tx)
        }
    }

    /// `xxxxx-xxxxx`, 50 bits from an unambiguous alphabet.
    static func recoveryCode() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")
        let characters = Secrets.randomBytes(10).map { alphabet[Int($0) % alphabet.count] }
        return String(characters[0..<5]) + "-" + String(characters[5..<10])
    }
}
