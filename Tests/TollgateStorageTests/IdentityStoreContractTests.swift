import Foundation
import TestSupport
import Testing
import TollgateSQL
import TollgateStorage

@Suite struct IdentityStoreContractTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    func user(_ id: String, _ email: String) -> UserRecord {
        UserRecord(id: id, email: email, passwordHash: "hash", createdAt: now, updatedAt: now)
    }

    func customer(_ id: String) -> CustomerRecord {
        CustomerRecord(
            id: id, email: nil, name: nil, planId: "free", billingAnchor: now, createdAt: now, updatedAt: now)
    }

    func message(_ recipient: String, _ kind: String = "verify_email") -> OutboxMessage {
        OutboxMessage(id: UUID().uuidString, kind: kind, recipient: recipient, payload: "{}", createdAt: now)
    }

    @Test(arguments: TestDatabase.all)
    func usersAreUniqueByEmailAndCreatedWholeOrNotAtAll(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            try await store.createUser(
                user("usr_1", "ada@example.com"), customer: customer("usr_1"), token: nil,
                outbox: [message("ada@example.com")])
            await #expect(throws: IdentityStoreError.emailTaken) {
                try await store.createUser(
                    user("usr_2", "ada@example.com"), customer: customer("usr_2"), token: nil,
                    outbox: [message("ada@example.com")])
            }
            #expect(try await store.customer(id: "usr_2") == nil)
            #expect(try await store.outboxMessages(recipient: "ada@example.com").count == 1)
            // A taken customer id rolls the user back too.
            _ = try await store.createCustomer(customer("usr_3"))
            await #expect(throws: IdentityStoreError.customerTaken) {
                try await store.createUser(
                    user("usr_3", "bob@example.com"), customer: customer("usr_3"), token: nil, outbox: [])
            }
            #expect(try await store.user(email: "bob@example.com") == nil)
            #expect(try await store.user(email: "ADA@example.com")?.id == "usr_1")
        }
    }

    @Test(arguments: TestDatabase.all)
    func refreshTokensRotateAndAReusedOneRevokesItsSession(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let session = SessionRecord(
                id: "ses_1", userId: "usr_1", createdAt: now, lastUsedAt: now, expiresAt: now + 3600, userAgent: "test",
                ip: "127.0.0.1")
            try await store.createSession(session, refreshTokenHash: "r1")
            guard
                case .rotated(let extended) = try await store.refreshSession(
                    tokenHash: "r1", newTokenHash: "r2", at: now + 10, extendTo: now + 7200)
            else {
                Issue.record("a live token must rotate")
                return
            }
            #expect(extended.expiresAt == now + 7200 && extended.lastUsedAt == now + 10)
            #expect(
                try await store.refreshSession(tokenHash: "nope", newTokenHash: "x", at: now, extendTo: now) == .invalid
            )
            #expect(
                try await store.refreshSession(tokenHash: "r1", newTokenHash: "r3", at: now + 20, extendTo: now + 7200)
                    == .reused(sessionId: "ses_1"))
            // The thief's replay killed the family: the legitimate newer token is dead too.
            #expect(
                try await store.refreshSession(tokenHash: "r2", newTokenHash: "r4", at: now + 30, extendTo: now + 7200)
                    == .invalid)
            #expect(try await store.sessions(userId: "usr_1", now: now).isEmpty)
        }
    }

    @Test(arguments: TestDatabase.all)
    func ofTwoConcurrentRefreshesExactlyOneWins(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let session = SessionRecord(
                id: "ses_1", userId: "usr_1", createdAt: now, lastUsedAt: now, expiresAt: now + 3600, userAgent: nil,
                ip: nil)
            try await store.createSession(session, refreshTokenHash: "r1")
            let outcomes = try await withThrowingTaskGroup(of: RefreshOutcome.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await store.refreshSession(
                            tokenHash: "r1", newTokenHash: "n\(index)", at: self.now, extendTo: self.now + 3600)
                    }
                }
                return try await group.reduce(into: [RefreshOutcome]()) { $0.append($1) }
            }
            #expect(outcomes.filter { if case .rotated = $0 { return true } else { return false } }.count == 1)
        }
    }

    @Test(arguments: TestDatabase.all)
    func sessionsListAndRevokeOnlyTheirOwner(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            for (id, user) in [("s1", "u1"), ("s2", "u1"), ("s3", "u2")] {
                try await store.createSession(
                    SessionRecord(
                        id: id, userId: user, createdAt: now, lastUsedAt: now, expiresAt: now + 60, userAgent: nil,
                        ip: nil), refreshTokenHash: "h\(id)")
            }
            #expect(try await store.sessions(userId: "u1", now: now).map(\.id).sorted() == ["s1", "s2"])
            #expect(try await store.revokeSession(userId: "u2", sessionId: "s1", at: now) == false)
            #expect(try await store.revokeSession(userId: "u1", sessionId: "s1", at: now) == true)
            #expect(try await store.sessions(userId: "u1", now: now).map(\.id) == ["s2"])
            #expect(try await store.sessions(userId: "u1", now: now + 61).isEmpty)
            try await store.createSession(
                SessionRecord(
                    id: "s4", userId: "u1", createdAt: now, lastUsedAt: now, expiresAt: now + 60, userAgent: nil,
                    ip: nil), refreshTokenHash: "hs4")
            // A change made knowing the old password keeps the session it was made from.
            try await store.changePassword(userId: "u1", passwordHash: "new", at: now, keepingSession: "s4")
            #expect(try await store.session(id: "s2")?.revokedAt == now)
            #expect(try await store.session(id: "s4")?.revokedAt == nil)
            try await store.changePassword(userId: "u1", passwordHash: "newer", at: now, keepingSession: nil)
            #expect(try await store.session(id: "s4")?.revokedAt == now)
            #expect(try await store.sessions(userId: "u2", now: now).count == 1)
        }
    }

    @Test(arguments: TestDatabase.all)
    func userTokensAreSingleUseTypedAndExpire(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            try await store.insertUserToken(
                UserTokenRecord(
                    tokenHash: "t1", userId: "u1", purpose: .verifyEmail, createdAt: now, expiresAt: now + 60),
                outbox: [message("a@example.com")])
            try await store.insertUserToken(
                UserTokenRecord(
                    tokenHash: "t2", userId: "u1", purpose: .resetPassword, createdAt: now, expiresAt: now + 60),
                outbox: [])
            #expect(try await store.consumeUserToken(tokenHash: "t1", purpose: .resetPassword, at: now) == nil)
            #expect(try await store.consumeUserToken(tokenHash: "t1", purpose: .verifyEmail, at: now) == "u1")
            #expect(try await store.consumeUserToken(tokenHash: "t1", purpose: .verifyEmail, at: now) == nil)
            #expect(try await store.consumeUserToken(tokenHash: "t2", purpose: .resetPassword, at: now + 61) == nil)
            #expect(try await store.outboxMessages(recipient: "a@example.com").count == 1)
        }
    }

    @Test(arguments: TestDatabase.all)
    func totpStepsAndRecoveryCodesCannotBeReplayed(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            try await store.createUser(user("u1", "ada@example.com"), customer: customer("u1"), token: nil, outbox: [])
            try await store.setPendingTOTP(userId: "u1", sealedSecret: "sealed", at: now)
            #expect(try await store.user(id: "u1")?.totpEnabledAt == nil)
            try await store.enableTOTP(userId: "u1", step: 100, recoveryCodeHashes: ["c1", "c2"], at: now, outbox: [])
            #expect(try await store.user(id: "u1")?.totpEnabledAt == now)
            #expect(try await store.useTOTPStep(userId: "u1", step: 100) == false)
            #expect(try await store.useTOTPStep(userId: "u1", step: 101) == true)
            #expect(try await store.useTOTPStep(userId: "u1", step: 101) == false)
            #expect(try await store.useRecoveryCode(userId: "u1", codeHash: "c1", at: now) == true)
            #expect(try await store.useRecoveryCode(userId: "u1", codeHash: "c1", at: now) == false)
            #expect(try await store.useRecoveryCode(userId: "u1", codeHash: "zz", at: now) == false)
            try await store.disableTOTP(userId: "u1", at: now, outbox: [])
            #expect(try await store.user(id: "u1")?.totpSecret == nil)
            #expect(try await store.useRecoveryCode(userId: "u1", codeHash: "c2", at: now) == false)
        }
    }
}
