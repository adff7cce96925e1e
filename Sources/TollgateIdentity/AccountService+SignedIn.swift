import Foundation
import TollgateCore
import TollgateStorage

/// What a signed-in user does to their own account: profile, erasure, sessions.
extension AccountService {
    /// Sets the user's name and the language of their e-mail; returns their customer record.
    public func updateProfile(userId: String, name: String?, locale: String?) async throws -> CustomerRecord {
        let name = try DisplayName.validated(optional: name)
        let now = clock.now()
        return try await store.transaction { tx in
            let before = try await tx.customer(id: userId)
            guard let customer = try await tx.setProfile(customerId: userId, name: name, locale: locale, at: now)
            else { throw DomainError(.unauthorized, "this account no longer exists") }
            // The name is personal data the trail outlives (erasure keeps entries): only that it changed.
            try await Self.record(
                "account.profile_changed", userId, before: before.map { Profile(locale: $0.locale) },
                after: Profile(locale: customer.locale, nameChanged: before?.name != customer.name), in: tx)
            return customer
        }
    }

    /// Erases the personal data of a customer (and of the user who is that customer): see
    /// `IdentityStore.erasePersonalData`. Invoices and the credit ledger stay. `bySubject`: the
    /// person asked for it (their account is erased), rather than the product for its customer.
    public func erasePersonalData(customerId: String, bySubject: Bool) async throws {
        // From a digest of the id: unique as the id is, and saying nothing of the person.
        let pseudonym = "erased-\(OpaqueDigest.hex(customerId).prefix(32))@erased.invalid"
        let unusable = try await settings.passwordPolicy.hashed(Secrets.opaqueToken(prefix: ""))
        // The failed attempts counted under the address, as it is and as its digest.
        let user = try await store.user(id: customerId)
        let customer = try await store.customer(id: customerId)
        let addresses = Set([user?.email, customer?.email].compactMap { $0 })
        let digests = addresses.map(OpaqueDigest.hex)
        let now = clock.now()
        let outcome = try await store.transaction { tx in
            let outcome = try await tx.erasePersonalData(
                customerId: customerId, pseudonym: pseudonym, passwordHash: unusable,
                attemptKeys: addresses.flatMap { ["login:\($0)", "reset:\($0)"] }
                    + digests.flatMap { ["login:\($0)", "reset:\($0)"] },
                attemptSubjects: Array(addresses) + digests, at: now)
            // Written after the erasure, so the entry itself is kept: it holds no personal data.
            if case .erased = outcome {
                try await Audit.record(
                    bySubject
                        ? AuditChange("account.erased", target: "account:\(customerId)")
                        : AuditChange("customer.personal_data_erased", target: "customer:\(customerId)"), in: tx)
            }
            return outcome
        }
        switch outcome {
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
        try await endSession(userId: userId, sessionId: sessionId, action: "auth.session_revoked")
    }

    /// Signs the user out of the session they are using.
    public func signOut(userId: String, sessionId: String) async throws {
        try await endSession(userId: userId, sessionId: sessionId, action: "auth.signed_out")
    }

    private func endSession(userId: String, sessionId: String, action: String) async throws {
        let now = clock.now()
        try await store.transaction { tx in
            guard try await tx.revokeSession(userId: userId, sessionId: sessionId, at: now) else {
                throw DomainError(.notFound, "no session \(sessionId)", field: "id")
            }
            try await Audit.record(AuditChange(action, target: "session:\(sessionId)"), in: tx)
        }
    }

    /// An account's change in the audit trail, in the change's transaction: its target is the
    /// account; `by`: the account acted (a link it followed), where the door knows nobody.
    static func record(
        _ action: String, _ userId: String, by actor: String? = nil, before: (any Encodable)? = nil,
        after: (any Encodable)? = nil, in tx: any AuditStore
    ) async throws {
        try await Audit.record(
            AuditChange(
                action, target: "account:\(userId)", before: before, after: after,
                actor: actor.map { AuditActor(kind: .user, id: $0) }), in: tx)
    }

    /// A profile as the audit trail records its changes.
    struct Profile: Encodable {
        var locale: String?
        var nameChanged = false
    }
}
