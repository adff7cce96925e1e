import Foundation
import SQLKit
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateSQL
import TollgateStorage

/// The audit trail on both databases: appends chain in order (concurrent ones too), queries
/// filter and page, retention keeps what stays verifiable, and whoever edits, inserts or deletes
/// a row behind the server's back is found at the first place they did.
@Suite struct AuditTrailContractTests {
    static let start = Fixtures.utc(2026, 11, 1)

    static func draft(_ number: Int, actor: AuditActor = AuditActor(kind: .user, id: "usr_1")) -> AuditDraft {
        AuditDraft(
            id: "aud_\(number)", at: start + TimeInterval(number) * 60, actor: actor, action: "customer.plan_changed",
            target: "customer:c\(number % 3)", workspaceId: number % 2 == 0 ? "ws_even" : nil, ip: "10.0.0.\(number)",
            userAgent: "tests", before: #"{"plan":"free"}"#, after: #"{"plan":"pro"}"#)
    }

    static func trail(_ store: SQLStore) -> AuditTrail {
        AuditTrail(store: store, box: TestKeys.box, clock: ManualClock(start))
    }

    static func raw(_ store: SQLStore, _ sql: SQLQueryString) async throws {
        try await store.provider.transaction { db in try await db.raw(sql).run() }
    }

    @Test(arguments: TestDatabase.all)
    func entriesChainAndAreReadBackByFilterAndCursor(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let trail = Self.trail(store)
            #expect(try await trail.verify() == .intact(entries: 0, lastSequence: 0))
            for number in 1...7 { try await trail.record(Self.draft(number)) }
            try await trail.record(Self.draft(8, actor: AuditActor(kind: .secretKey, id: "key_1")))
            // The same id again (a form sent twice) is the same entry, not a second one.
            let again = try await trail.record(Self.draft(3))
            #expect(again.sequence == 3)
            #expect(try await trail.verify() == .intact(entries: 8, lastSequence: 8))

            var query = AuditQuery(limit: 3)
            let first = try await store.auditEvents(query)
            #expect(first.map(\.sequence) == [8, 7, 6])
            query.before = first.last?.sequence
            #expect(try await store.auditEvents(query).map(\.sequence) == [5, 4, 3])
            query = AuditQuery()
            query.actorKind = .secretKey
            #expect(try await store.auditEvents(query).map(\.draft.id) == ["aud_8"])
            query = AuditQuery()
            query.target = "customer:c1"
            #expect(try await store.auditEvents(query).map(\.sequence) == [7, 4, 1])
            query = AuditQuery()
            query.workspaceId = "ws_even"
            query.from = Self.start + 4 * 60
            query.to = Self.start + 8 * 60
            #expect(try await store.auditEvents(query).map(\.sequence) == [6, 4])
            query = AuditQuery()
            query.concerning = "usr_1"
            #expect(try await store.auditEvents(query).count == 7)
            let stored = try #require(try await store.auditEvents(AuditQuery(limit: 1)).first)
            #expect(stored.draft == Self.draft(8, actor: AuditActor(kind: .secretKey, id: "key_1")))
        }
    }

    @Test(arguments: TestDatabase.all)
    func concurrentAppendsMakeOneUnbrokenChain(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let trail = Self.trail(store)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for number in 1...40 { group.addTask { try await trail.record(Self.draft(number)) } }
                try await group.waitForAll()
            }
            #expect(try await trail.verify() == .intact(entries: 40, lastSequence: 40))
        }
    }

    @Test(arguments: TestDatabase.all)
    func retentionRemovesTheOldestAndWhatStaysStillVerifies(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let trail = AuditTrail(store: store, box: TestKeys.box, clock: ManualClock(Self.start + 10 * 60))
            for number in 1...6 { try await trail.record(Self.draft(number)) }
            // Older than 6 minutes before 10:00 → entries at minutes 1 to 3.
            #expect(try await trail.prune(retention: 6.5 * 60) == 3)
            #expect(try await trail.verify() == .intact(entries: 3, lastSequence: 6))
            #expect(try await store.auditChain(after: 0, limit: 10).map(\.sequence) == [4, 5, 6])
            // The last entry always stays, however old.
            #expect(try await trail.prune(retention: 0) == 2)
            try await trail.record(Self.draft(7))
            #expect(try await trail.verify() == .intact(entries: 2, lastSequence: 7))
        }
    }

    @Test(arguments: TestDatabase.all)
    func anEditedRowIsFound(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let trail = Self.trail(store)
            for number in 1...5 { try await trail.record(Self.draft(number)) }
            try await Self.raw(store, #"UPDATE audit_events SET after_json = '{"plan":"free"}' WHERE seq = 3"#)
            #expect(try await trail.verify() == .broken(AuditBreak(kind: .edited, sequence: 3, id: "aud_3")))
        }
    }

    @Test(arguments: TestDatabase.all)
    func aDeletedRowIsFoundInTheMiddleAndAtTheEnd(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let trail = Self.trail(store)
            for number in 1...5 { try await trail.record(Self.draft(number)) }
            try await Self.raw(store, "DELETE FROM audit_events WHERE seq = 5")
            #expect(try await trail.verify() == .broken(AuditBreak(kind: .deleted, sequence: 5, id: nil)))
            try await Self.raw(store, "DELETE FROM audit_events WHERE seq = 2")
            #expect(try await trail.verify() == .broken(AuditBreak(kind: .deleted, sequence: 2, id: nil)))
        }
    }

    @Test(arguments: TestDatabase.all)
    func anInsertedRowAndARewrittenHeadAreFound(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let trail = Self.trail(store)
            for number in 1...3 { try await trail.record(Self.draft(number)) }
            let last = try #require(try await store.auditChain(after: 2, limit: 1).first)
            try await Self.raw(
                store,
                """
                INSERT INTO audit_events (seq, id, at_ms, actor_kind, action, prev_hash, hash)
                VALUES (4, 'aud_forged', 0, 'system', 'customer.plan_changed', \(bind: last.hash), 'f00d')
                """)
            #expect(try await trail.verify() == .broken(AuditBreak(kind: .inserted, sequence: 4, id: "aud_forged")))
            // Moving the head onto the forged entry does not hide it: the head's code no longer fits.
            try await Self.raw(store, "UPDATE audit_head SET last_seq = 4, last_hash = 'f00d'")
            #expect(try await trail.verify() == .broken(AuditBreak(kind: .headRewritten, sequence: 4, id: nil)))
        }
    }

    @Test func anotherMasterKeyCannotForgeTheChain() async throws {
        try await TestDatabase.sqlite.withStore { store, _ in
            for number in 1...2 { try await Self.trail(store).record(Self.draft(number)) }
            // Whoever lacks the master key can only make a key of their own; its chain differs.
            let forger = try #require(AuditChain(keyData: SecretBox.generateKey()))
            let first = try #require(try await store.auditChain(after: 0, limit: 1).first)
            #expect(forger.hash(previous: "", sequence: 1, draft: first.draft) != first.hash)
            #expect(try await Self.trail(store).verify() == .intact(entries: 2, lastSequence: 2))
        }
    }
}
