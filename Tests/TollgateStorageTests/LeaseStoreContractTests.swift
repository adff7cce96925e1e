import Foundation
import Synchronization
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

/// `acquireLease` on both databases: what a node holds is read from its row, which grants add to
/// and commits subtract from, so a commit landing while the node asks is not counted twice
/// (such phantom units made nodes refuse while units remained).
@Suite struct LeaseStoreContractTests {
    static let key = CounterKey(subject: "customer:c1", feature: "searches", periodStartMillis: 1_777_593_600_000)
    static let at = Fixtures.utc(2026, 5, 14)

    /// Asks for `amount` for `node`; the grant, and the `available` the database offered.
    static func acquire(
        _ store: SQLStore, node: String, amount: Int64, forfeited: Int64 = 0, inflight: Int64 = 0,
        ttlMillis: Int64 = 60_000
    ) async throws -> (grant: LeaseGrant, available: Int64) {
        let offered = Mutex<Int64>(-1)
        let grant = try await store.acquireLease(
            key, period: "monthly", periodEndMillis: nil, limit: 100, node: node, forfeited: forfeited,
            inflight: inflight, ttlMillis: ttlMillis
        ) { available in
            offered.withLock { $0 = available }
            return amount
        }
        return (grant, offered.withLock { $0 })
    }

    static func commit(_ store: SQLStore, node: String, units: Int64, key idempotencyKey: String) async throws {
        let delta = CounterDelta(key: key, period: "monthly", periodEndMillis: nil, delta: units, leaseNode: node)
        let record = IdempotencyRecord(
            scope: "consume:c1", key: idempotencyKey, fingerprint: "f", response: "r", createdAt: at)
        _ = try await store.commit(UsageBatch(entries: [UsageEntry(deltas: [delta], record: record)], at: at))
    }

    @Test(arguments: TestDatabase.all)
    func aCommitLandingWhileANodeAsksIsCountedOnce(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let first = try await Self.acquire(store, node: "a", amount: 10)
            #expect(first.grant == LeaseGrant(granted: 10, used: 0) && first.available == 100)
            // Node a took 3 units and its commit landed; a's memory still says 3 in flight when
            // it asks again. Its row says 7: a holds 7, and 100 - 3 - 7 = 90 are free.
            try await Self.commit(store, node: "a", units: 3, key: "k1")
            let again = try await Self.acquire(store, node: "a", amount: 5, inflight: 3)
            #expect(again.grant == LeaseGrant(granted: 5, used: 3) && again.available == 90)
            // Another node sees a's 12 and the 3 committed.
            #expect(try await Self.acquire(store, node: "b", amount: 0).available == 85)
        }
    }

    @Test(arguments: TestDatabase.all)
    func forfeitedUnitsReturnAndALapsedLeaseHoldsOnlyWhatIsInFlight(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            _ = try await Self.acquire(store, node: "a", amount: 10)
            // a gave up 6 unused units (its plan changed): they are free again.
            #expect(try await Self.acquire(store, node: "a", amount: 0, forfeited: 6).available == 96)
            #expect(try await Self.acquire(store, node: "b", amount: 0).available == 96)
            // A lease that lapsed holds only a's 2 in flight, whatever its row said.
            _ = try await Self.acquire(store, node: "c", amount: 20, ttlMillis: -1)
            #expect(try await Self.acquire(store, node: "c", amount: 0, inflight: 2).available == 94)
        }
    }

    /// Commits one unit under key "k1" at `date`; whether it was applied.
    static func commitK1(_ store: SQLStore, at date: Date) async throws -> Bool {
        let delta = CounterDelta(key: key, period: "monthly", periodEndMillis: nil, delta: 1)
        let record = IdempotencyRecord(
            scope: "consume:c1", key: "k1", fingerprint: "searches|1|", response: "allowed", createdAt: date)
        return try await store.commit(UsageBatch(entries: [UsageEntry(deltas: [delta], record: record)], at: date))[0]
    }

    /// A refusal recorded from a lease answers its key until it expires: a commit of the same key
    /// before then is not applied (its copy's refusal stands), after it replaces the refusal.
    @Test(arguments: TestDatabase.all)
    func aRecordedRefusalHoldsItsKeyUntilItExpires(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let refusal = IdempotencyRecord(
                scope: "consume:c1", key: "k1", fingerprint: "searches|1|", response: "refused", createdAt: Self.at)
            let recorded = try await store.recordRefusal(refusal, until: Self.at.addingTimeInterval(10))
            #expect(recorded)
            #expect(try await Self.commitK1(store, at: Self.at.addingTimeInterval(5)) == false)
            #expect(try await store.idempotencyRecord(scope: "consume:c1", key: "k1")?.response == "refused")
            // A second refusal while the first holds: the first stands.
            #expect(try await store.recordRefusal(refusal, until: Self.at.addingTimeInterval(20)) == false)
            #expect(try await Self.commitK1(store, at: Self.at.addingTimeInterval(11)))
            #expect(try await store.idempotencyRecord(scope: "consume:c1", key: "k1")?.response == "allowed")
            #expect(try await store.counterValue(Self.key) == 1)
            // An answer that is not a refusal is never replaced.
            #expect(try await store.recordRefusal(refusal, until: Self.at.addingTimeInterval(99)) == false)
        }
    }
}
