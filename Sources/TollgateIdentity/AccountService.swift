import Foundation
import Logging
import TollgateCore
import TollgateStorage

public struct AccountSettings: Sendable {
    public var issuer = "tollgate"
    /// The `aud` claim: the product the tokens are for.
    public var audience: String
    /// The name authenticator apps show for the account's codes (the product's name); nil: the audience.
    public var authenticatorIssuer: String?
    public var accessTokenSeconds: TimeInterval = 15 * 60
    public var sessionSeconds: TimeInterval = 30 * 86_400
    public var verifyEmailSeconds: TimeInterval = 24 * 3600
    public var resetPasswordSeconds: TimeInterval = 3600
    public var passwordPolicy = PasswordPolicy()
    public var accountRule = AttemptLimiter.Rule(maximumFailures: 5, window: 15 * 60)
    /// Per address, the distinct accounts tried: one person mistyping their own password never
    /// locks out everyone behind the same address; trying many accounts from one place does.
    public var addressRule = AttemptLimiter.Rule(maximumFailures: 20, window: 15 * 60, distinctSubjects: true)

    public init(audience: String) { self.audience = audience }
}

public struct TokenPair: Sendable, Encodable {
    public let accessToken: String
    public let refreshToken: String
    public var tokenType = "Bearer"
    public let expiresIn: Int
}

/// Who a verified access token speaks for.
public struct SignedInUser: Sendable {
    public let userId: String
    public let sessionId: String
    public let claims: AccessClaims
}

/// Where a request comes from, for throttling and the session list.
public struct ClientInfo: Sendable {
    public let address: String
    public let userAgent: String?

    public init(address: String, userAgent: String?) {
        self.address = address
        self.userAgent = userAgent
    }
}

/// End-user accounts: registration, e-mail verification, sign-in with optional TOTP, refresh-token
/// rotation with reuse detection, sessions, password reset. Every e-mail goes through the outbox.
public final class AccountService: Sendable {
    public let settings: AccountSettings
    let store: any IdentityStore & CustomerStore & WorkspaceStore & OutboxStore & AttemptStore & TransactionalStorage
    let keys: SigningKeyRing
    let box: SecretBox
    let clock: any TollgateClock
    let limiter: AttemptLimiter
    let defaultPlan: String
    let decoyHash: String

    public init(
        settings: AccountSettings,
        store: any IdentityStore & CustomerStore & WorkspaceStore & OutboxStore & AttemptStore & TransactionalStorage,
        keys: SigningKeyRing,
        box: SecretBox,
        clock: any TollgateClock, defaultPlan: String
    ) {
        self.settings = settings
        self.store = store
        limiter = AttemptLimiter(store: store)
        self.keys = keys
        self.box = box
        self.clock = clock
        self.defaultPlan = defaultPlan
        decoyHash = settings.passwordPolicy.decoyHash
    }

    public func jwks() -> [String: [[String: String]]] { keys.signer(now: clock.now()).jwks }

    // MARK: Registration and e-mail

    /// Registers a new account and e-mails its verification link. An address already in use
    /// gets the same answer, and its owner an e-mail saying someone tried (with the way to reset
    /// the password): the route never tells whether an address has an account. Both paths hash
    /// the password and write once, so they also take the same time. Such attempts still count
    /// against the caller's address.
    /// `next`: where the person was going (a portal path the caller checked), carried by the
    /// verification link so the way on leads there.
    public func register(
        email rawEmail: String, password: String, locale: String? = nil, next: String? = nil, client: ClientInfo
    ) async throws {
        let email = try EmailAddress.normalized(rawEmail)
        let now = clock.now()
        let addressKey = "address:\(client.address)"
        try await limiter.check(addressKey, rule: settings.addressRule, now: now)
        try settings.passwordPolicy.validate(password, email: email)
        let id = Secrets.randomId(prefix: "usr_")
        let user = UserRecord(
            id: id, email: email, passwordHash: try await settings.passwordPolicy.hashed(password), createdAt: now,
            updatedAt: now)
        var customer = CustomerRecord(
            id: id, email: email, name: nil, planId: defaultPlan, billingAnchor: now, createdAt: now, updatedAt: now)
        customer.locale = locale
        let (token, message) = try emailToken(
            .verifyEmail, userId: id, email: email, now: now, lifetime: settings.verifyEmailSeconds, locale: locale,
            next: next)
        do {
            try await store.transaction { [customer] tx in
                try await tx.createUser(user, customer: customer, token: token, outbox: [message])
                // No target, as for an address that has an account: the trail does not tell.
                try await Audit.record(AuditChange("account.sign_up_requested", target: nil), in: tx)
            }
        } catch IdentityStoreError.emailTaken {
            try await limiter.recordFailure(addressKey, at: now, subject: OpaqueDigest.hex(email))
            guard let owner = try await store.user(email: email) else { return }
            let notice = try await notice("account_exists", to: owner, now: now)
            // Recorded as a sign-up like any other: the trail does not tell who has an account.
            try await store.transaction { tx in
                try await tx.enqueueOutbox([notice])
                try await Audit.record(AuditChange("account.sign_up_requested", target: nil), in: tx)
            }
        }
    }

    /// Follows the verification link: the address is the account's. A second factor begun
    /// before (by whoever held the account unverified) is dropped.
    public func verifyEmail(token: String) async throws {
        let now = clock.now()
        guard
            let userId = try await store.consumeUserToken(
                tokenHash: OpaqueDigest.hex(token), purpose: .verifyEmail, at: now)
        else {
            throw DomainError(.invalidToken, "the verification link is invalid, used or expired", field: "token")
        }
        var welcome: [OutboxMessage] = []
        if let user = try await store.user(id: userId) {
            let plan = try await store.customer(id: userId)?.planId ?? defaultPlan
            welcome.append(try await notice("welcome", to: user, now: now, values: ["plan": plan]))
        }
        try await store.transaction { [welcome] tx in
            try await tx.markEmailVerified(userId: userId, at: now, outbox: welcome)
            try await Self.record("account.email_verified", userId, by: userId, in: tx)
        }
    }

    /// Sends a reset link if the account exists; answers the same either way.
    public func requestPasswordReset(email rawEmail: String, client: ClientInfo) async throws {
        let email = try EmailAddress.normalized(rawEmail)
        let now = clock.now()
        // Every request counts here, so the endpoint cannot be used to flood a mailbox.
        try await limiter.spend("reset:\(OpaqueDigest.hex(email))", rule: settings.accountRule, now: now)
        // The same write either way (the request is recorded), so the time taken does not tell
        // whether the address has an account.
        let user = try await store.user(email: email)
        let (token, message) = try emailToken(
            .resetPassword, userId: user?.id ?? "", email: email, now: now, lifetime: settings.resetPasswordSeconds)
        try await store.transaction { tx in
            try await tx.recordPasswordResetRequest(
                emailDigest: OpaqueDigest.hex(email), at: now, token: user == nil ? nil : token,
                outbox: user == nil ? [] : [message])
            try await Audit.record(AuditChange("auth.password_reset_requested", target: nil), in: tx)
        }
    }

    /// Sets a new password from a reset link and signs every device out. Following the link
    /// proves the mailbox: the address becomes verified, the sign-in lock is lifted, and when the
    /// account was unverified whatever its holder set up (a second factor) is cleared.
    public func resetPassword(token: String, newPassword: String) async throws {
        // Refuse a weak password, and hash it, before spending the link: the user can simply try
        // another, and a server too busy to hash leaves the link as it was.
        try settings.passwordPolicy.validate(newPassword)
        let hash = try await settings.passwordPolicy.hashed(newPassword)
        let now = clock.now()
        guard
            let userId = try await store.consumeUserToken(
                tokenHash: OpaqueDigest.hex(token), purpose: .resetPassword, at: now),
            let user = try await store.user(id: userId)
        else {
            throw DomainError(.invalidToken, "the reset link is invalid, used or expired", field: "token")
        }
        try settings.passwordPolicy.validate(newPassword, email: user.email)
        try await store.transaction { tx in
            try await tx.resetPassword(userId: userId, passwordHash: hash, at: now)
            try await Self.record("auth.password_reset", userId, by: userId, in: tx)
        }
        try await limiter.reset(Self.signInKey(user.email))
    }

    /// The failures of sign-ins to an address are counted under its digest: the table of
    /// failures never holds an address (nothing to erase there).
    static func signInKey(_ email: String) -> String { "login:\(OpaqueDigest.hex(email))" }

    /// A signed-in user's new password, given the current one; every other session is signed out.
    public func changePassword(userId: String, current: String, new: String, keepingSession: String) async throws {
        let user = try await user(id: userId)
        let now = clock.now()
        try await requirePassword(current, of: user, field: "currentPassword", now: now)
        try settings.passwordPolicy.validate(new, email: user.email)
        let hash = try await settings.passwordPolicy.hashed(new)
        try await store.transaction { tx in
            try await tx.changePassword(userId: userId, passwordHash: hash, at: now, keepingSession: keepingSession)
            try await Self.record("account.password_changed", userId, in: tx)
        }
    }

    /// Sends a confirmation link to `newEmail`; the address changes only when it is followed
    /// (`confirmEmailChange`). The current password is needed, as for a password change. The
    /// answer does not say whether another account has the address: the link does, to whoever
    /// holds that mailbox.
    public func requestEmailChange(userId: String, newEmail rawEmail: String, password: String) async throws -> String {
        let user = try await verifiedUser(id: userId)
        let now = clock.now()
        try await requirePassword(password, of: user, field: "password", now: now)
        let email = try EmailAddress.normalized(rawEmail)
        guard email != user.email else {
            throw DomainError.invalidField("email", "is already the account's address")
        }
        // Each request counts: the route cannot be used to flood someone else's mailbox.
        try await limiter.spend("email-change:\(userId)", rule: settings.accountRule, now: now)
        var (token, message) = try emailToken(
            .changeEmail, userId: userId, email: email, now: now, lifetime: settings.verifyEmailSeconds,
            locale: try await store.customer(id: userId)?.locale)
        token.data = email
        try await store.transaction { [token, message] tx in
            try await tx.insertUserToken(token, outbox: [message])
            try await Self.record("account.email_change_requested", userId, after: ["requestedEmail": email], in: tx)
        }
        return email
    }

    /// Follows an e-mail change's link: the account (and its customer) take the new address,
    /// verified, and the old address is told. 409 when another account took it meanwhile.
    @discardableResult
    public func confirmEmailChange(token: String) async throws -> (userId: String, email: String) {
        let now = clock.now()
        let change = try await store.transaction { tx in
            let change = try await tx.changeEmail(tokenHash: OpaqueDigest.hex(token), at: now) { from, to, locale in
                let payload = ["email": from, "newEmail": to, "locale": locale].compactMapValues { $0 }
                return [
                    OutboxMessage(
                        id: Secrets.randomId(prefix: "msg_"), kind: "email.email_changed", recipient: from,
                        payload: String(
                            decoding: (try? JSONEncoder().encode(payload)) ?? Data("{}".utf8), as: UTF8.self),
                        createdAt: now)
                ]
            }
            if case .changed(let userId, _, let email) = change {
                try await Self.record("account.email_changed", userId, by: userId, after: ["email": email], in: tx)
            }
            return change
        }
        switch change {
        case .changed(let userId, _, let email): return (userId, email)
        case .invalid:
            throw DomainError(.invalidToken, "the confirmation link is invalid, used or expired", field: "token")
        case .taken:
            throw DomainError(.emailTaken, "another account has this address now", field: "token")
        }
    }

    /// A signed-in user's password, asked again before a sensitive change; failures are throttled.
    func requirePassword(_ password: String, of user: UserRecord, field: String, now: Date) async throws {
        let throttleKey = "password:\(user.id)"
        try await limiter.check(throttleKey, rule: settings.accountRule, now: now)
        guard try await settings.passwordPolicy.matches(password, hash: user.passwordHash) else {
            try await limiter.recordFailure(throttleKey, at: now)
            throw DomainError(.invalidCredentials, "the password is wrong", field: field)
        }
    }

    /// A mail to the user about their account (`welcome`, `two_factor_enabled`…), in their language.
    func notice(_ kind: String, to user: UserRecord, now: Date, values: [String: String] = [:])
        async throws -> OutboxMessage
    {
        var payload = values
        payload["userId"] = user.id
        payload["email"] = user.email
        payload["locale"] = try await store.customer(id: user.id)?.locale
        return OutboxMessage(
            id: Secrets.randomId(prefix: "msg_"), kind: "email.\(kind)", recipient: user.email,
            payload: String(decoding: try JSONEncoder().encode(payload), as: UTF8.self), createdAt: now)
    }

    func emailToken(
        _ purpose: UserTokenPurpose, userId: String, email: String, now: Date, lifetime: TimeInterval,
        locale: String? = nil, next: String? = nil
    ) throws -> (UserTokenRecord, OutboxMessage) {
        let secret = Secrets.opaqueToken(prefix: "")
        let record = UserTokenRecord(
            tokenHash: OpaqueDigest.hex(secret), userId: userId, purpose: purpose, createdAt: now,
            expiresAt: now + lifetime)
        let payload = String(
            decoding: try JSONEncoder().encode(
                [
                    "sealedToken": try box.sealToken(secret), "userId": userId,
                    "expiresAt": ISO8601DateFormatter().string(from: now + lifetime), "locale": locale, "next": next,
                ].compactMapValues { $0 }), as: UTF8.self)
        let message = OutboxMessage(
            id: Secrets.randomId(prefix: "msg_"), kind: "email.\(purpose.rawValue)", recipient: email, payload: payload,
            createdAt: now)
        return (record, message)
    }
}
