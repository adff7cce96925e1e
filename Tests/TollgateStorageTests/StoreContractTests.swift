import Foundation
import SQLKit
import TestSupport
import Testing
import TollgateSQL
import TollgateStorage

/// The storage contract: every test runs on SQLite and on PostgreSQL.
@Suite struct StoreContractTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    func customer(_ id: String, plan: String = "free") -> CustomerRecord {
        CustomerRecord(
            id: id, email: "\(id)@example.com", name: nil, planId: plan, billingAnchor: now, createdAt: now,
            updatedAt: now)
    }

    @Test(arguments: TestDatabase.all)
    func migrationsApplyOnceAndAreRecorded(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            #expect(try await Migrator.migrate(store.provider).isEmpty)
            let versions = try await store.provider.read { db in
                try await db.raw("SELECT version FROM schema_migrations ORDER BY version").all().map {
                    try $0.decode(column: "version", as: Int.self)
                }
            }
            #expect(versions == Array(1...Migrator.latestVersion))
        }
    }

    @Test(arguments: TestDatabase.all)
    func customersAreCreatedOnceAndNeverOverwritten(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            #expect(try await store.createCustomer(customer("c1")) == .created(customer("c1")))
            var changed = customer("c1")
            changed.email = "other@example.com"
            #expect(try await store.createCustomer(changed) == .existing(customer("c1")))
            #expect(try await store.customer(id: "c1") == customer("c1"))
            #expect(try await store.customer(id: "nobody") == nil)
            let later = now.addingTimeInterval(3600)
            let moved = try #require(try await store.changePlan(customerId: "c1", planId: "pro", at: later))
            #expect(moved.planId == "pro" && moved.billingAnchor == later && moved.createdAt == now)
            #expect(try await store.changePlan(customerId: "nobody", planId: "pro", at: later) == nil)
        }
    }

    @Test(arguments: TestDatabase.all)
    func apiKeysAreFoundByHashOnly(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let key = APIKeyRecord(
                id: "key_1", prefix: "tg_sk_abc", secretHash: "h1", scopes: ["admin", "usage:write"], name: "ci",
                createdAt: now)
            try await store.insertAPIKey(key)
            #expect(try await store.apiKey(secretHash: "h1") == key)
            #expect(try await store.apiKey(secretHash: "h2") == nil)
            try await store.markAPIKeyUsed(id: "key_1", at: now.addingTimeInterval(5))
            #expect(try await store.apiKey(secretHash: "h1")?.lastUsedAt == now.addingTimeInterval(5))
            await #expect(throws: (any Error).self) { try await store.insertAPIKey(key) }
        }
    }

    @Test(arguments: TestDatabase.all)
    func aBatchMergesDeltasAndStoresIdempotencyRecords(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let key = CounterKey(subject: "customer:c1", feature: "search", periodStartMillis: 1000)
            let other = CounterKey(subject: "customer:c1", feature: "notes", periodStartMillis: 0)
            let record = IdempotencyRecord(
                scope: "consume:c1", key: "k1", fingerprint: "search|2", response: "{}", createdAt: now)
            try await store.commit(
                UsageBatch(
                    deltas: [
                        CounterDelta(key: key, period: "monthly", periodEndMillis: 2000, delta: 2),
                        CounterDelta(key: key, period: "monthly", periodEndMillis: 2000, delta: 3),
                        CounterDelta(key: other, period: "lifetime", periodEndMillis: nil, delta: 7),
                    ], idempotencyRecords: [record], at: now))
            try await store.commit(
                UsageBatch(
                    deltas: [CounterDelta(key: other, period: "lifetime", periodEndMillis: nil, delta: -2)],
                    idempotencyRecords: [], at: now))
            #expect(try await store.counterValue(key) == 5)
            #expect(try await store.counterValue(other) == 5)
            #expect(
                try await store.counterValue(
                    CounterKey(subject: "customer:c2", feature: "search", periodStartMillis: 1000)) == 0)
            #expect(try await store.idempotencyRecord(scope: "consume:c1", key: "k1") == record)
            #expect(try await store.idempotencyRecord(scope: "consume:c2", key: "k1") == nil)
        }
    }

    @Test(arguments: TestDatabase.all)
    func anEntryWhoseKeyIsStoredIsSkippedWholeAndTheRestApplies(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let key = CounterKey(subject: "customer:c1", feature: "search", periodStartMillis: 1000)
            func entry(_ delta: Int64, _ idempotencyKey: String) -> UsageEntry {
                UsageEntry(
                    deltas: [CounterDelta(key: key, period: "monthly", periodEndMillis: nil, delta: delta)],
                    record: IdempotencyRecord(
                        scope: "consume:c1", key: idempotencyKey, fingerprint: "f", response: "{}", createdAt: now))
            }
            #expect(try await store.commit(UsageBatch(entries: [entry(1, "k1")], at: now)) == [true])
            // k1 again (a retry, or another node's), k2 new, and k2 twice in one batch.
            let applied = try await store.commit(
                UsageBatch(entries: [entry(10, "k1"), entry(2, "k2"), entry(100, "k2")], at: now))
            #expect(applied == [false, true, false])
            #expect(try await store.counterValue(key) == 3)
        }
    }

    @Test(arguments: TestDatabase.all)
    func historyListsLifetimeCountersAndPeriodsInRange(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let march = Fixtures.utc(2026, 3, 1), april = Fixtures.utc(2026, 4, 1), may = Fixtures.utc(2026, 5, 1)
            func delta(_ feature: String, _ start: Date?, _ used: Int64) -> CounterDelta {
                CounterDelta(
                    key: CounterKey(
                        subject: "customer:c1", feature: feature, periodStartMillis: start.map(Millis.from) ?? 0),
                    period: start == nil ? "lifetime" : "monthly", periodEndMillis: nil, delta: used
                )
            }
            try await store.commit(
                UsageBatch(
                    deltas: [
                        delta("search", march, 3), delta("search", april, 4), delta("search", may, 5),
                        delta("notes", nil, 9),
                        CounterDelta(
                            key: CounterKey(
                                subject: "customer:c2", feature: "search", periodStartMillis: Millis.from(april)),
                            period: "monthly", periodEndMillis: nil, delta: 1),
                    ], idempotencyRecords: [], at: now))
            let rows = try await store.usageHistory(subject: "customer:c1", from: april, to: may)
            #expect(rows.map(\.feature) == ["notes", "search"])
            #expect(rows.map(\.used) == [9, 4])
            #expect(rows[1].periodStart == april)
        }
    }

    @Test(arguments: TestDatabase.all)
    func concurrentTransactionsAreSerializedWithoutLoss(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let key = CounterKey(subject: "customer:c1", feature: "search", periodStartMillis: 0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        try await store.commit(
                            UsageBatch(
                                deltas: [CounterDelta(key: key, period: "lifetime", periodEndMillis: nil, delta: 1)],
                                idempotencyRecords: [], at: Date()))
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.counterValue(key) == 40)
        }
    }
}
