import Foundation
import Logging
import TollgateCore
import TollgateStorage

/// Signing in: passwords and their attempts, the second step, sessions and token refresh.
extension AccountService {
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
        try await store.transaction { tx in
            try await tx.createSession(session, refreshTokenHash: OpaqueDigest.hex(refresh))
            try await Self.record("auth.signed_in", user.id, by: user.id, in: tx)
        }
        return try await tokens(userId: user.id, sessionId: session.id, refreshToken: refresh, now: now)
    }

    func fail(_ accountKey: String, _ addressKey: String, _ email: String, _ now: Date) async throws {
        try await limiter.recordFailure(accountKey, at: now)
        try await limiter.recordFailure(addressKey, at: now, subject: OpaqueDigest.hex(email))
    }

    /// True when `code` is the authenticator's current code for an account with TOTP on; nothing
    /// is spent (the sign-in spends it once the password is right too).
    func codeMatches(_ code: String, user: UserRecord, now: Date) throws -> Bool {
        let digits = code.replacingOccurrences(of: " ", with: "")
        guard user.totpEnabledAt != nil, digits.count == 6, let sealed = user.totpSecret else { return false }
        return TOTP(secret: try box.open(sealed)).matchingStep(digits, at: now, afterStep: user.totpLastStep) != nil
    }

    /// A TOTP code not used before, or an unused recovery code.
    func acceptSecondFactor(_ code: String, user: UserRecord, now: Date) async throws -> Bool {
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

    func tokens(userId: String, sessionId: String, refreshToken: String, now: Date) async throws -> TokenPair {
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
}
