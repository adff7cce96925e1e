import Foundation

public struct UserRecord: Sendable, Hashable {
    /// Also the user's customer id.
    public var id: String
    /// Stored lower-cased.
    public var email: String
    public var passwordHash: String
    public var emailVerifiedAt: Date?
    /// The TOTP seed, sealed with the master key; present once enrolment started.
    public var totpSecret: String?
    public var totpEnabledAt: Date?
    /// The last TOTP step accepted, so a code cannot be used twice.
    public var totpLastStep: Int64?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, email: String, passwordHash: String, emailVerifiedAt: Date? = nil, totpSecret: String? = nil,
        totpEnabledAt: Date? = nil, totpLastStep: Int64? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.emailVerifiedAt = emailVerifiedAt
        self.totpSecret = totpSecret
        self.totpEnabledAt = totpEnabledAt
        self.totpLastStep = totpLastStep
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A signed-in device: the family of refresh tokens that descend from one login.
public struct SessionRecord: Sendable, Hashable {
    public var id: String
    public var userId: String
    public var createdAt: Date
    public var lastUsedAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?
    public var userAgent: String?
    public var ip: String?

    public init(
        id: String, userId: String, createdAt: Date, lastUsedAt: Date, expiresAt: Date, revokedAt: Date? = nil,
        userAgent: String?, ip: String?
    ) {
        self.id = id
        self.userId = userId
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.userAgent = userAgent
        self.ip = ip
    }
}

public enum RefreshOutcome: Sendable, Hashable {
    /// The token was live: it is now spent, the new one is stored, the session was extended.
    case rotated(SessionRecord)
    /// The token had been spent already: a thief or a replay. The whole session is now revoked.
    case reused(sessionId: String)
    /// Unknown, or its session is revoked or expired.
    case invalid
}

public enum UserTokenPurpose: String, Sendable {
    case verifyEmail = "verify_email"
    case resetPassword = "reset_password"
    /// Confirms a new e-mail address from that address (`data` holds it).
    case changeEmail = "change_email"
}

/// What confirming an e-mail change did.
public enum EmailChange: Sendable, Hashable {
    case changed(userId: String, from: String, to: String)
    /// The link is unknown, spent or expired.
    case invalid
    /// Another account took the address meanwhile (the link is spent).
    case taken
}

public struct UserTokenRecord: Sendable, Hashable {
    public let tokenHash: String
    public let userId: String
    public let purpose: UserTokenPurpose
    public let createdAt: Date
    public let expiresAt: Date
    /// What the token is about besides its user (the new address of an e-mail change).
    public var data: String?

    public init(
        tokenHash: String, userId: String, purpose: UserTokenPurpose, createdAt: Date, expiresAt: Date,
        data: String? = nil
    ) {
        self.tokenHash = tokenHash
        self.userId = userId
        self.purpose = purpose
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.data = data
    }
}

/// An effect outside the database (an e-mail, a webhook), written in the same transaction as the
/// change that causes it, and delivered later by a background service.
public struct OutboxMessage: Sendable, Hashable {
    public let id: String
    public let kind: String
    public let recipient: String
    /// JSON.
    public let payload: String
    public let createdAt: Date
    public var deliveredAt: Date?

    public init(id: String, kind: String, recipient: String, payload: String, createdAt: Date, deliveredAt: Date? = nil)
    {
        self.id = id
        self.kind = kind
        self.recipient = recipient
        self.payload = payload
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}

/// What an erasure did.
public enum ErasureOutcome: Sendable, Equatable {
    case erased
    /// No customer with that id.
    case notFound
    /// The user owns this workspace, which has other members: its ownership goes first.
    case ownsSharedWorkspace(String)
}

public protocol IdentityStore: Sendable {
    /// Erases what identifies a person, in one transaction (the GDPR's right to erasure): the
    /// user's address becomes `pseudonym` (freeing the address) and their password `passwordHash`
    /// (one nobody knows); second factor, tokens and recovery codes go; sessions end and lose their
    /// address and browser; memberships, invitations and mail preferences go; messages to the
    /// address that wait are dropped and the sent ones name the pseudonym; the customer's
    /// e-mail, name and language are cleared. Invoices, their billing details, the credit ledger
    /// and usage stay whole (they are kept by law, and name no one but by id). The address is also
    /// replaced by the pseudonym wherever a message or a tracked event of theirs carries it, and
    /// the failed attempts counted under `attemptKeys` or naming one of `attemptSubjects` go.
    func erasePersonalData(
        customerId: String, pseudonym: String, passwordHash: String, attemptKeys: [String], attemptSubjects: [String],
        at: Date
    ) async throws -> ErasureOutcome

    /// Creates the user and their customer record, and queues `welcome` effects, in one
    /// transaction. Throws `IdentityStoreError.emailTaken` (nothing written) if the e-mail is used.
    func createUser(_ user: UserRecord, customer: CustomerRecord, token: UserTokenRecord?, outbox: [OutboxMessage])
        async throws
    func user(id: String) async throws -> UserRecord?
    func user(email: String) async throws -> UserRecord?
    /// Marks the address verified; `outbox` (the welcome mail) is written with it, the first time
    /// only, when a second factor begun (or set) while unverified is also dropped.
    func markEmailVerified(userId: String, at: Date, outbox: [OutboxMessage]) async throws
    /// Sets a new password hash and revokes every session of the user but `keepingSession`
    /// (the one that changed it, when the user knew the old password) and every reset link.
    func changePassword(userId: String, passwordHash: String, at: Date, keepingSession: String?) async throws
    /// A password set from a reset link (which proves the mailbox): every session and every
    /// single-use link of the account ends; an unverified address becomes verified, and what its
    /// holder set up unverified (a second factor, its recovery codes) is cleared.
    func resetPassword(userId: String, passwordHash: String, at: Date) async throws
    /// Stores a sealed TOTP seed, not yet enabled (enrolment in progress).
    func setPendingTOTP(userId: String, sealedSecret: String, at: Date) async throws
    /// Enables TOTP with `step` as the last used step, replacing all recovery codes.
    func enableTOTP(userId: String, step: Int64, recoveryCodeHashes: [String], at: Date, outbox: [OutboxMessage])
        async throws
    func disableTOTP(userId: String, at: Date, outbox: [OutboxMessage]) async throws
    /// Records `step` as used, only if it is later than the last one; false when it is not
    /// (the code was replayed).
    func useTOTPStep(userId: String, step: Int64) async throws -> Bool
    /// Spends a recovery code; false if unknown or already used.
    func useRecoveryCode(userId: String, codeHash: String, at: Date) async throws -> Bool

    func createSession(_ session: SessionRecord, refreshTokenHash: String) async throws
    func refreshSession(tokenHash: String, newTokenHash: String, at: Date, extendTo: Date) async throws
        -> RefreshOutcome
    func session(id: String) async throws -> SessionRecord?
    /// Live sessions (not revoked, not expired at `now`), newest first.
    func sessions(userId: String, now: Date) async throws -> [SessionRecord]
    /// Revokes one of the user's sessions; false if they have no such session.
    func revokeSession(userId: String, sessionId: String, at: Date) async throws -> Bool

    /// Inserts a single-use token and queues its effects in one transaction.
    func insertUserToken(_ token: UserTokenRecord, outbox: [OutboxMessage]) async throws
    /// Records a password-reset request (the address's digest) and, for an existing account, its
    /// token and e-mail, in one transaction: both kinds of request cost the same write. Requests
    /// older than a day are pruned in the same transaction.
    func recordPasswordResetRequest(
        emailDigest: String, at: Date, token: UserTokenRecord?, outbox: [OutboxMessage]
    ) async throws
    /// Spends the token if it is live and of `purpose`; returns its user.
    func consumeUserToken(tokenHash: String, purpose: UserTokenPurpose, at: Date) async throws -> String?
    /// Spends an e-mail change's token and moves the account (and its customer) to the new
    /// address, verified, with the mail `notice` makes from the old and new addresses (and the
    /// customer's language) — in one transaction.
    func changeEmail(
        tokenHash: String, at: Date,
        notice: @escaping @Sendable (_ from: String, _ to: String, _ locale: String?) -> [OutboxMessage]
    ) async throws -> EmailChange

    func outboxMessages(recipient: String) async throws -> [OutboxMessage]
}

public enum IdentityStoreError: Error, Sendable, Equatable {
    case emailTaken
    case customerTaken
}
