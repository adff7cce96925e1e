import Foundation
import TollgateCore
import TollgateStorage

/// Operator accounts of the console: created with a one-time setup link, set up with a password
/// and a TOTP authenticator (both required), signed in to cookie sessions that lapse when idle.
public struct OperatorService: Sendable {
    public struct Settings: Sendable {
        /// A session unused this long is over.
        public var idleTimeout: TimeInterval = 30 * 60
        /// How long a setup link works.
        public var setupLifetime: TimeInterval = 72 * 3600
        /// The issuer shown by authenticator apps.
        public var issuer = "Tollgate console"
        public var accountRule = AttemptLimiter.Rule(maximumFailures: 5, window: 15 * 60)
        public var addressRule = AttemptLimiter.Rule(maximumFailures: 20, window: 15 * 60, distinctSubjects: true)

        public init() {}
    }

    /// A signed-in operator: the cookie's token (shown once) and the session it opens.
    public struct SignIn: Sendable {
        public let token: String
        public let session: OperatorSessionRecord
        public let account: OperatorRecord
    }

    /// What the setup page shows: the account, and a fresh TOTP secret to enrol (sealed, to come
    /// back with the form).
    public struct Enrolment: Sendable {
        public let account: OperatorRecord
        public let secret: String
        public let provisioningURI: String
        public let sealedSecret: String
    }

    let store: any OperatorStore & AttemptStore & TransactionalStorage
    let box: SecretBox
    let clock: any TollgateClock
    let settings: Settings
    let passwordPolicy: PasswordPolicy
    let limiter: AttemptLimiter
    let decoyHash: String

    /// `passwordPolicy`: the same as the end users' (the server passes its own).
    public init(
        store: any OperatorStore & AttemptStore & TransactionalStorage, box: SecretBox, clock: any TollgateClock,
        passwordPolicy: PasswordPolicy = PasswordPolicy(), settings: Settings = Settings()
    ) {
        self.store = store
        limiter = AttemptLimiter(store: store)
        self.box = box
        self.clock = clock
        self.settings = settings
        self.passwordPolicy = passwordPolicy
        decoyHash = passwordPolicy.decoyHash
    }

    /// A new operator without credentials, and the token of their setup link.
    public func create(email rawEmail: String, role: OperatorRole) async throws -> (OperatorRecord, token: String) {
        let email = try EmailAddress.normalized(rawEmail)
        let token = Secrets.opaqueToken(prefix: "tg_setup_")
        let now = clock.now()
        let record = OperatorRecord(
            id: Secrets.randomId(prefix: "op_"), email: email, role: role,
            setupTokenDigest: OpaqueDigest.hex(token), setupExpiresAt: now + settings.setupLifetime, createdAt: now)
        try await store.transaction { tx in
            guard try await tx.createOperator(record) else {
                throw DomainError(.conflict, "an operator with this e-mail address exists", field: "email")
            }
            try await Audit.record(
                AuditChange("operator.invited", target: Self.target(record.id), after: AuditedOperator(record)), in: tx)
        }
        return (record, token)
    }

    /// Gives an operator another role; the last owner keeps theirs (the store decides it in the
    /// statement that changes it, so two demotions at once cannot leave no owner).
    public func changeRole(id: String, to role: OperatorRole) async throws {
        try await store.transaction { tx in
            switch try await tx.setOperatorRole(id: id, role: role) {
            case nil: throw DomainError(.notFound, "no operator \(id)", field: "id")
            case .lastOwner: throw DomainError(.conflict, "the last owner cannot be demoted", field: "role")
            case .done(let before):
                var after = before
                after.role = role
                try await Audit.record(
                    AuditChange(
                        "operator.role_changed", target: Self.target(id), before: ["role": before.role.rawValue],
                        after: ["role": after.role.rawValue]),
                    in: tx)
            }
        }
    }

    /// Removes an operator and their sessions, unless they are the last owner.
    public func remove(id: String) async throws {
        try await store.transaction { tx in
            switch try await tx.deleteOperator(id: id) {
            case nil: throw DomainError(.notFound, "no operator \(id)", field: "id")
            case .lastOwner: throw DomainError(.conflict, "the last owner cannot be removed", field: "id")
            case .done(let before):
                try await Audit.record(
                    AuditChange("operator.removed", target: Self.target(id), before: AuditedOperator(before)), in: tx)
            }
        }
    }

    static func target(_ id: String) -> String { "operator:\(id)" }

    /// The account a setup link is for, with a new secret to enrol.
    /// With `sealedSecret` (a form sent back), the same secret again: an authenticator already
    /// enrolled still matches.
    public func enrolment(token: String, reusing sealedSecret: String? = nil) async throws -> Enrolment {
        let account = try await pendingAccount(token: token)
        let secret = sealedSecret.flatMap { try? box.open($0) } ?? TOTP.generateSecret()
        return Enrolment(
            account: account, secret: Base32.encode(secret),
            provisioningURI: TOTP(secret: secret).provisioningURI(account: account.email, issuer: settings.issuer),
            sealedSecret: try box.seal(secret))
    }

    /// Sets the password and the authenticator (its current code proves it was enrolled), and
    /// signs the operator in.
    public func completeSetup(token: String, password: String, sealedSecret: String, code: String, address: String)
        async throws -> SignIn
    {
        let account = try await pendingAccount(token: token)
        try passwordPolicy.validate(password, email: account.email)
        guard let secret = try? box.open(sealedSecret) else {
            throw DomainError(
                .invalidField, "the enrolment form was altered: open the setup link again", field: "secret")
        }
        guard let step = TOTP(secret: secret).matchingStep(Self.digits(code), at: clock.now()) else {
            throw DomainError(.totpInvalid, "the code does not match the authenticator's secret", field: "code")
        }
        let hash = try await passwordPolicy.hashed(password)
        let sealed = try box.seal(secret)
        let (session, sessionToken) = Self.newSession(for: account, at: clock.now())
        try await store.transaction { tx in
            guard
                try await tx.completeOperatorSetup(
                    id: account.id, setupTokenDigest: OpaqueDigest.hex(token), passwordHash: hash,
                    sealedTOTPSecret: sealed)
            else { throw DomainError(.invalidToken, "this setup link was used already") }
            _ = try await tx.spendOperatorTOTPStep(id: account.id, step: step)
            try await tx.createOperatorSession(session)
            try await Self.recordSignIn("console.operator_set_up", account, in: tx)
        }
        return SignIn(token: sessionToken, session: session, account: account)
    }

    private func pendingAccount(token: String) async throws -> OperatorRecord {
        guard let account = try await store.operatorAccount(setupTokenDigest: OpaqueDigest.hex(token)),
            let expiry = account.setupExpiresAt, expiry > clock.now()
        else { throw DomainError(.invalidToken, "this setup link is unknown, used or expired") }
        return account
    }

    /// E-mail, password and the authenticator's code, all three right; throttled per address
    /// and per account like the end users' sign-in.
    public func signIn(email rawEmail: String, password: String, code: String, address: String) async throws
        -> SignIn
    {
        let email = rawEmail.lowercased().trimmingCharacters(in: .whitespaces)
        let now = clock.now()
        let accountKey = "operator:\(email)", addressKey = "operator-address:\(address)"
        try await limiter.check(addressKey, rule: settings.addressRule, now: now)
        try await limiter.check(accountKey, rule: settings.accountRule, now: now)
        let account = try await store.operatorAccount(email: email)
        let passwordOK = try await passwordPolicy.matches(password, hash: account?.passwordHash ?? decoyHash)
        guard passwordOK, let account, account.isSetUp, let sealed = account.sealedTOTPSecret else {
            try await fail(accountKey, addressKey, email, now)
            throw DomainError(.invalidCredentials, "invalid e-mail, password or code")
        }
        let totp = TOTP(secret: try box.open(sealed))
        guard let step = totp.matchingStep(Self.digits(code), at: now),
            try await store.spendOperatorTOTPStep(id: account.id, step: step)
        else {
            try await fail(accountKey, addressKey, email, now)
            throw DomainError(.invalidCredentials, "invalid e-mail, password or code")
        }
        try await limiter.reset(accountKey)
        return try await openSession(for: account)
    }

    private func fail(_ accountKey: String, _ addressKey: String, _ email: String, _ now: Date) async throws {
        try await limiter.recordFailure(accountKey, at: now)
        try await limiter.recordFailure(addressKey, at: now, subject: email)
    }

    private func openSession(for account: OperatorRecord) async throws -> SignIn {
        let (session, token) = Self.newSession(for: account, at: clock.now())
        try await store.transaction { tx in
            try await tx.createOperatorSession(session)
            try await Self.recordSignIn("console.signed_in", account, in: tx)
        }
        return SignIn(token: token, session: session, account: account)
    }

    private static func newSession(for account: OperatorRecord, at now: Date) -> (OperatorSessionRecord, String) {
        let token = Secrets.opaqueToken(prefix: "tg_op_")
        let session = OperatorSessionRecord(
            digest: OpaqueDigest.hex(token), operatorId: account.id,
            csrfToken: Secrets.opaqueToken(prefix: "csrf_"), createdAt: now, lastSeenAt: now)
        return (session, token)
    }

    /// The operator acted on their own account (the door knew nobody yet).
    private static func recordSignIn(_ action: String, _ account: OperatorRecord, in tx: any AuditStore) async throws {
        try await Audit.record(
            AuditChange(action, target: target(account.id), actor: AuditActor(kind: .operator, id: account.id)), in: tx)
    }

    /// The operator and session behind a cookie's token; nil when unknown, idle too long (then
    /// ended), or the operator was removed. Marks the session used.
    public func session(token: String) async throws -> (OperatorRecord, OperatorSessionRecord)? {
        let digest = OpaqueDigest.hex(token)
        guard let session = try await store.operatorSession(digest: digest) else { return nil }
        let now = clock.now()
        guard now.timeIntervalSince(session.lastSeenAt) < settings.idleTimeout,
            let account = try await store.operatorAccount(id: session.operatorId), account.isSetUp
        else {
            try await store.deleteOperatorSession(digest: digest)
            return nil
        }
        // One write a minute at most per session, not one per page.
        if now.timeIntervalSince(session.lastSeenAt) >= 60 {
            try await store.touchOperatorSession(digest: digest, at: now)
        }
        return (account, session)
    }

    public func signOut(token: String) async throws {
        try await store.transaction { tx in
            try await tx.deleteOperatorSession(digest: OpaqueDigest.hex(token))
            try await Audit.record(AuditChange("console.signed_out", target: nil), in: tx)
        }
    }

    static func digits(_ code: String) -> String { code.filter { !$0.isWhitespace } }
}

/// An operator as the audit trail records them: never their credentials.
struct AuditedOperator: Encodable {
    let email: String
    let role: String

    init(_ account: OperatorRecord) {
        email = account.email
        role = account.role.rawValue
    }
}
