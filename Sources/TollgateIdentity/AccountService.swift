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
    private let store: any IdentityStore & CustomerStore & WorkspaceStore & OutboxStore & AttemptStore
    private let keys: SigningKeyRing
    private let box: SecretBox
    private let clock: any TollgateClock
    private let limiter: AttemptLimiter
    private let defaultPlan: String
    private let decoyHash: String

    public init(
        settings: AccountSettings,
        store: any IdentityStore & CustomerStore & WorkspaceStore & OutboxStore & AttemptStore,
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
            try await store.createUser(user, customer: customer, token: token, outbox: [message])
        } catch IdentityStoreError.emailTaken {
            try await limiter.recordFailure(addressKey, at: now, subject: OpaqueDigest.hex(email))
            guard let owner = try await store.user(email: email) else { return }
            try await store.enqueueOutbox([try await notice("account_exists", to: owner, now: now)])
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
        try await store.markEmailVerified(userId: userId, at: now, outbox: welcome)
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
        try await store.recordPasswordResetRequest(
            emailDigest: OpaqueDigest.hex(email), at: now, token: user == nil ? nil : token,
            outbox: user == nil ? [] : [message])
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
        try await store.resetPassword(userId: userId, passwordHash: hash, at: now)
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
        try await store.changePassword(
            userId: userId, passwordHash: try await settings.passwordPolicy.hashed(new), at: now,
            keepingSession: keepingSession)
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
        try await store.insertUserToken(token, outbox: [message])
        return email
    }

    /// Follows an e-mail change's link: the account (and its customer) take the new address,
    /// verified, and the old address is told. 409 when another account took it meanwhile.
    @discardableResult
    public func confirmEmailChange(token: String) async throws -> (userId: String, email: String) {
        let now = clock.now()
        let change = try await store.changeEmail(tokenHash: OpaqueDigest.hex(token), at: now) { from, to, locale in
            let payload = ["email": from, "newEmail": to, "locale": locale].compactMapValues { $0 }
            return [
                OutboxMessage(
                    id: Secrets.randomId(prefix: "msg_"), kind: "email.email_changed", recipient: from,
                    payload: String(decoding: (try? JSONEncoder().encode(payload)) ?? Data("{}".utf8), as: UTF8.self),
                    createdAt: now)
            ]
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
    private func requirePassword(_ password: String, of user: UserRecord, field: String, now: Date) async throws {
        let throttleKey = "password:\(user.id)"
        try await limiter.check(throttleKey, rule: settings.accountRule, now: now)
        guard try await settings.passwordPolicy.matches(password, hash: user.passwordHash) else {
            try await limiter.recordFailure(throttleKey, at: now)
            throw DomainError(.invalidCredentials, "the password is wrong", field: field)
        }
    }

    /// A mail to the user about their account (`welcome`, `two_factor_enabled`…), in their language.
    private func notice(_ kind: String, to user: UserRecord, now: Date, values: [String: String] = [:])
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

    private func emailToken(
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

    // MARK: Sign-in

    /// Checks the password (and the second factor when enabled) and opens a session.
    /// Failures never say whether the e-mail exists, and are throttled per account and per address.
    public func login(email rawEmail: String, password: String, totp: String?, client: ClientInfo) async throws
        -> TokenPair
    {
        let email = try EmailAddress.normalized(rawEmail)
        let now = clock.now()
        let accountKey = Self.signInKey(email), addressKey = "address:\(client.address)"
        try await limiter.check(addressKey, rule: settings.addressRule, now: now)
        // A locked account is not a weapon against its owner: the lock is lifted for a request
        // carrying both the right password and a valid authenticator code (an account without one
        // waits, or resets its password through the e-mailed link). The code is checked first,
        // without spending it: a locked account costs no password hash to anyone without it.
        let locked: DomainError?
        do {
            try await limiter.check(accountKey, rule: settings.accountRule, now: now)
            locked = nil
        } catch let error as DomainError where error.code == .tooManyAttempts {
            guard let totp, let user = try await store.user(email: email),
                try codeMatches(totp, user: user, now: now)
            else { throw error }
            locked = error
        }
        let user = try await store.user(email: email)
        let passwordOK =
            try await settings.passwordPolicy.matches(password, hash: user?.passwordHash ?? decoyHash) && user != nil
        guard passwordOK, let user else {
            try await fail(accountKey, addressKey, email, now)
            if let locked { throw locked }
            throw DomainError(.invalidCredentials, "invalid e-mail or password")
        }
        if user.totpEnabledAt != nil {
            guard let totp, !totp.isEmpty else {
                throw DomainError(
                    .totpRequired,
                    "this account uses two-factor authentication: send the code from the authenticator app in totp",
                    field: "totp")
            }
            guard try await acceptSecondFactor(totp, user: user, now: now) else {
                try await fail(accountKey, addressKey, email, now)
                if let locked { throw locked }
                throw DomainError(.totpInvalid, "the two-factor code is wrong or was already used", field: "totp")
            }
        }
        try await limiter.reset(accountKey)
        let session = SessionRecord(
            id: Secrets.randomId(prefix: "ses_"), userId: user.id, createdAt: now, lastUsedAt: now,
            expiresAt: now + settings.sessionSeconds, userAgent: client.userAgent.map { String($0.prefix(300)) },
            ip: client.address
        )
        let refresh = Secrets.opaqueToken(prefix: "tg_rt_")
        try await store.createSession(session, refreshTokenHash: OpaqueDigest.hex(refresh))
        return try await tokens(userId: user.id, sessionId: session.id, refreshToken: refresh, now: now)
    }

    private func fail(_ accountKey: String, _ addressKey: String, _ email: String, _ now: Date) async throws {
        try await limiter.recordFailure(accountKey, at: now)
        try await limiter.recordFailure(addressKey, at: now, subject: OpaqueDigest.hex(email))
    }

    /// True when `code` is the authenticator's current code for an account with TOTP on; nothing
    /// is spent (the sign-in spends it once the password is right too).
    private func codeMatches(_ code: String, user: UserRecord, now: Date) throws -> Bool {
        let digits = code.replacingOccurrences(of: " ", with: "")
        guard user.totpEnabledAt != nil, digits.count == 6, let sealed = user.totpSecret else { return false }
        return TOTP(secret: try box.open(sealed)).matchingStep(digits, at: now, afterStep: user.totpLastStep) != nil
    }

    /// A TOTP code not used before, or an unused recovery code.
    private func acceptSecondFactor(_ code: String, user: UserRecord, now: Date) async throws -> Bool {
        let trimmed = code.replacingOccurrences(of: " ", with: "")
        if trimmed.count == 6, let sealed = user.totpSecret {
            let totp = TOTP(secret: try box.open(sealed))
            guard let step = totp.matchingStep(trimmed, at: now, afterStep: user.totpLastStep) else { return false }
            return try await store.useTOTPStep(userId: user.id, step: step)
        }
        return try await store.useRecoveryCode(
            userId: user.id, codeHash: OpaqueDigest.hex(trimmed.lowercased()), at: now)
    }

    /// What a refresh does to the session's selected workspace.
    public enum WorkspaceSelection: Sendable {
        case keep
        case clear
        case select(String)
    }

    /// Trades a live refresh token for a new pair. A spent token revokes its whole session.
    /// Selecting a workspace (one the user belongs to) puts it and the user's role in the tokens.
    public func refresh(refreshToken: String, workspace: WorkspaceSelection = .keep) async throws -> TokenPair {
        let now = clock.now()
        let next = Secrets.opaqueToken(prefix: "tg_rt_")
        switch try await store.refreshSession(
            tokenHash: OpaqueDigest.hex(refreshToken), newTokenHash: OpaqueDigest.hex(next), at: now,
            extendTo: now + settings.sessionSeconds)
        {
        case .rotated(let session):
            switch workspace {
            case .keep: break
            case .clear: try await store.selectWorkspace(sessionId: session.id, workspaceId: nil)
            case .select(let id):
                // The refresh token is spent either way; a refused selection keeps the old one out.
                guard try await store.role(workspaceId: id, userId: session.userId) != nil else {
                    throw DomainError(.notFound, "no workspace \(id) of yours; sign in again", field: "workspace")
                }
                try await store.selectWorkspace(sessionId: session.id, workspaceId: id)
            }
            return try await tokens(userId: session.userId, sessionId: session.id, refreshToken: next, now: now)
        case .reused:
            throw DomainError(
                .invalidToken, "this refresh token was already used; the session has been revoked, sign in again",
                field: "refreshToken")
        case .invalid:
            throw DomainError(.invalidToken, "unknown, expired or revoked refresh token", field: "refreshToken")
        }
    }

    private func tokens(userId: String, sessionId: String, refreshToken: String, now: Date) async throws -> TokenPair {
        let verified = try await store.user(id: userId)?.emailVerifiedAt != nil
        var plan = try await store.customer(id: userId)?.planId ?? defaultPlan
        var workspace: String?, role: WorkspaceRole?
        if let selected = try await store.selectedWorkspace(sessionId: sessionId),
            let selectedRole = try await store.role(workspaceId: selected, userId: userId)
        {
            workspace = selected
            role = selectedRole
            // Inside a workspace, its plan is the one that applies.
            plan = try await store.customer(id: selected)?.planId ?? plan
        }
        let issuedAt = Int64(now.timeIntervalSince1970)
        let claims = AccessClaims(
            sub: userId, iss: settings.issuer, aud: settings.audience, iat: issuedAt,
            exp: issuedAt + Int64(settings.accessTokenSeconds), sid: sessionId, plan: plan, workspace: workspace,
            role: role?.rawValue, emailVerified: verified
        )
        return TokenPair(
            accessToken: try keys.signer(now: now).sign(claims), refreshToken: refreshToken,
            expiresIn: Int(settings.accessTokenSeconds))
    }

    /// True when `accessToken` is one this server signed and has not expired (its session is not
    /// read: for telling a credential from a made-up header, not for authorizing).
    public func signed(accessToken: String) -> Bool {
        let now = clock.now()
        return
            (try? keys.signer(now: now).verify(
                accessToken, issuer: settings.issuer, audience: settings.audience, now: now)) != nil
    }

    /// Verifies an access token and that its session is still live.
    public func authenticate(accessToken: String) async throws -> SignedInUser {
        let now = clock.now()
        let claims: AccessClaims
        do {
            claims = try keys.signer(now: now).verify(
                accessToken, issuer: settings.issuer, audience: settings.audience, now: now)
        } catch {
            throw DomainError(.unauthorized, "invalid or expired access token (\(error))")
        }
        guard let session = try await store.session(id: claims.sid), session.userId == claims.sub,
            session.revokedAt == nil, session.expiresAt > now
        else {
            throw DomainError(.unauthorized, "this session has been signed out")
        }
        return SignedInUser(userId: claims.sub, sessionId: claims.sid, claims: claims)
    }

    // MARK: The signed-in user

    /// Sets the user's name and the language of their e-mail; returns their customer record.
    public func updateProfile(userId: String, name: String?, locale: String?) async throws -> CustomerRecord {
        let name = try DisplayName.validated(optional: name)
        guard let customer = try await store.setProfile(customerId: userId, name: name, locale: locale, at: clock.now())
        else { throw DomainError(.unauthorized, "this account no longer exists") }
        return customer
    }

    /// Erases the personal data of a customer (and of the user who is that customer): see
    /// `IdentityStore.erasePersonalData`. Invoices and the credit ledger stay.
    public func erasePersonalData(customerId: String) async throws {
        // From a digest of the id: unique as the id is, and saying nothing of the person.
        let pseudonym = "erased-\(OpaqueDigest.hex(customerId).prefix(32))@erased.invalid"
        let unusable = try await settings.passwordPolicy.hashed(Secrets.opaqueToken(prefix: ""))
        // The failed attempts counted under the address, as it is and as its digest.
        let user = try await store.user(id: customerId)
        let customer = try await store.customer(id: customerId)
        let addresses = Set([user?.email, customer?.email].compactMap { $0 })
        let digests = addresses.map(OpaqueDigest.hex)
        switch try await store.erasePersonalData(
            customerId: customerId, pseudonym: pseudonym, passwordHash: unusable,
            attemptKeys: addresses.flatMap { ["login:\($0)", "reset:\($0)"] }
                + digests.flatMap { ["login:\($0)", "reset:\($0)"] },
            attemptSubjects: Array(addresses) + digests, at: clock.now())
        {
        case .erased: return
        case .notFound: throw DomainError(.customerNotFound, "no customer with id \(customerId)", field: "id")
        case .ownsSharedWorkspace(let workspace):
            throw DomainError(
                .conflict, "this user owns workspace \(workspace), which has other members: transfer it first",
                field: "id")
        }
    }

    /// The user's customer record (name, language, plan).
    public func profile(userId: String) async throws -> CustomerRecord? { try await store.customer(id: userId) }

    /// The user and session a portal cookie names, while the session is live (not signed out,
    /// not expired): signing a device out on the security page ends its cookie too.
    public func liveSession(id: String) async throws -> (user: UserRecord, session: SessionRecord)? {
        guard let session = try await store.session(id: id), session.revokedAt == nil, session.expiresAt > clock.now(),
            let user = try await store.user(id: session.userId)
        else { return nil }
        return (user, session)
    }

    /// The user, whose address must be verified: until it is, whoever registered it may not set
    /// up what would stand in the way of the address's owner (a second factor, memberships).
    public func verifiedUser(id: String) async throws -> UserRecord {
        let user = try await user(id: id)
        guard user.emailVerifiedAt != nil else { throw DomainError.emailNotVerified }
        return user
    }

    public func user(id: String) async throws -> UserRecord {
        guard let user = try await store.user(id: id) else {
            throw DomainError(.unauthorized, "this account no longer exists")
        }
        return user
    }

    public func sessions(userId: String) async throws -> [SessionRecord] {
        try await store.sessions(userId: userId, now: clock.now())
    }

    /// Revokes one of the user's own sessions; another user's session is "not found".
    public func revokeSession(userId: String, sessionId: String) async throws {
        guard try await store.revokeSession(userId: userId, sessionId: sessionId, at: clock.now()) else {
            throw DomainError(.notFound, "no session \(sessionId)", field: "id")
        }
    }

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
        try await store.setPendingTOTP(userId: userId, sealedSecret: try box.seal(totp.secret), at: clock.now())
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
        try await store.enableTOTP(
            userId: userId, step: step, recoveryCodeHashes: codes.map(OpaqueDigest.hex), at: now,
            outbox: [try await notice("two_factor_enabled", to: user, now: now)])
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
        try await store.disableTOTP(
            userId: userId, at: now, outbox: [try await notice("two_factor_disabled", to: user, now: now)])
    }

    /// `xxxxx-xxxxx`, 50 bits from an unambiguous alphabet.
    static func recoveryCode() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")
        let characters = Secrets.randomBytes(10).map { alphabet[Int($0) % alphabet.count] }
        return String(characters[0..<5]) + "-" + String(characters[5..<10])
    }
}
