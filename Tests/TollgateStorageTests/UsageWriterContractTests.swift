import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

/// The meter's group commits go through the writer each provider supplies —
/// SQLite's C API in production, SQLKit statements on PostgreSQL. The same contract holds them
/// to one behaviour, including failures injected inside their own transactions (a wrapper that
/// fails before the writer runs never exercised the C-API writer's rollback).
@Suite struct UsageWriterContractTests {
    enum Writer: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case sqliteCAPI, sqliteSQLKit, postgresSQLKit
        var testDescription: String { rawValue }

        /// Every writer; PostgreSQL's case is skipped, and says so, without a server.
        static var all: [Writer] { allCases }

        func withStore<T>(faults: UsageWriteFaults, _ body: (SQLStore) async throws -> T) async throws -> T {
            let database: TestDatabase = self == .postgresSQLKit ? .postgres : .sqlite
            return try await database.withLocation { location in
                let provider: any DatabaseProvider
                switch (self, location.location) {
                case (.sqliteCAPI, .sqlite(let directory)):
                    provider = try await SQLiteProvider.open(
                        directory: directory, logger: TestDatabase.logger, usageWriter: .cAPI, faults: faults)
                case (.sqliteSQLKit, .sqlite(let directory)):
                    provider = try await SQLiteProvider.open(
                        directory: directory, logger: TestDatabase.logger, usageWriter: .sqlKit, faults: faults)
                case (_, .postgres(let url)):
                    provider = try PostgresProvider(url: url, logger: TestDatabase.logger, faults: faults)
                default:
                    throw TestSupportError("\(self) on \(location.location)")
                }
                do {
                    try await Migrator.migrate(provider)
                    let result = try await body(SQLStore(provider: provider))
                    await provider.shutdown()
                    return result
                } catch {
                    await provider.shutdown()
                    throw error
                }
            }
        }
    }

    static let at = Fixtures.utc(2026, 5, 14)
    static let searches = CounterKey(subject: "customer:c1", feature: "searches", periodStartMillis: 1_777_593_600_000)
    static let notes = CounterKey(subject: "customer:c1", feature: "notes", periodStartMillis: 0)

    static func delta(_ key: CounterKey, _ amount: Int64) -> CounterDelta {
        CounterDelta(
            key: key, period: key.periodStartMillis == 0 ? "lifetime" : "monthly", periodEndMillis: nil, delta: amount)
    }

    static func fact(_ units: Int64, refusal: DenialReason? = nil) -> UsageFact {
        UsageFact(
            customerId: "c1", feature: "searches", planId: "pro", units: units, refusal: refusal,
            upgradeTier: refusal == nil ? nil : "business")
    }

    /// The usage rollup of the commits' day, per outcome: units and events.
    static func rollup(_ store: SQLStore) async throws -> [String: [Int64]] {
        Dictionary(
            uniqueKeysWithValues: try await store.usageTotals(from: at, to: at.addingTimeInterval(86_400)).map {
                ($0.outcome, [$0.units, $0.events])
            })
    }

    static func record(_ key: String) -> IdempotencyRecord {
        IdempotencyRecord(scope: "consume:c1", key: key, fingerprint: "f", response: "r-\(key)", createdAt: at)
    }

    @Test(arguments: Writer.all)
    func appliesNewKeysOnceAndMergesDeltas(writer: Writer) async throws {
        try await writer.withStore(faults: UsageWriteFaults()) { store in
            #expect(
                try await store.commit(
                    UsageBatch(
                        entries: [UsageEntry(deltas: [Self.delta(Self.searches, 1)], record: Self.record("old"))],
                        at: Self.at)) == [true])
            let applied = try await store.commit(
                UsageBatch(
                    entries: [
                        UsageEntry(
                            deltas: [Self.delta(Self.searches, 2), Self.delta(Self.notes, 1)],
                            record: Self.record("a"), fact: Self.fact(2)),
                        // "a" again in the batch, then "old", stored before: neither applies.
                        UsageEntry(
                            deltas: [Self.delta(Self.searches, 5)], record: Self.record("a"), fact: Self.fact(5)),
                        UsageEntry(
                            deltas: [Self.delta(Self.searches, 7)], record: Self.record("old"), fact: Self.fact(7)),
                        UsageEntry(deltas: [Self.delta(Self.searches, 3)], record: nil, fact: Self.fact(3)),
                        UsageEntry(deltas: [Self.delta(Self.notes, -1)], record: Self.record("b")),
                        // Refusals: facts alone, no counter, no record.
                        UsageEntry(deltas: [], record: nil, fact: Self.fact(0, refusal: .userQuotaExhausted)),
                        UsageEntry(deltas: [], record: nil, fact: Self.fact(0, refusal: .userQuotaExhausted)),
                    ], at: Self.at))
            #expect(applied == [true, false, false, true, true, true, true])
            #expect(
                try await Self.rollup(store) == ["allowed": [2 + 3, 2], "USER_QUOTA_EXHAUSTED": [0, 2]],
                "the applied entries' facts only, summed per outcome")
            let prompts = try await store.upgradePrompts(from: Self.at, to: Self.at.addingTimeInterval(86_400))
            #expect(prompts == [UsageReport.Prompt(customerId: "c1", feature: "searches", planId: "pro", at: Self.at)])
            #expect(try await store.counterValue(Self.searches) == 1 + 2 + 3)
            #expect(try await store.counterValue(Self.notes) == 0)
            #expect(try await store.idempotencyRecord(scope: "consume:c1", key: "a")?.response == "r-a")
            #expect(try await store.idempotencyRecord(scope: "consume:c1", key: "old")?.response == "r-old")
        }
    }

    @Test(arguments: Writer.all, UsageWriteFaults.Stage.allCases)
    func aFailureInsideTheTransactionCountsNothingAndTheWriterCarriesOn(
        writer: Writer, stage: UsageWriteFaults.Stage
    ) async throws {
        let faults = UsageWriteFaults()
        try await writer.withStore(faults: faults) { (store: SQLStore) async throws -> Void in
            let batch = UsageBatch(
                entries: [
                    UsageEntry(deltas: [Self.delta(Self.searches, 4)], record: Self.record("k1"), fact: Self.fact(4)),
                    UsageEntry(deltas: [Self.delta(Self.notes, 2)], record: Self.record("k2")),
                ], at: Self.at)
            faults.arm(stage)
            await #expect(throws: UsageWriteFaults.Injected(stage: stage)) { try await store.commit(batch) }
            #expect(try await store.counterValue(Self.searches) == 0)
            #expect(try await store.counterValue(Self.notes) == 0)
            #expect(try await store.idempotencyRecord(scope: "consume:c1", key: "k1") == nil)
            #expect(try await Self.rollup(store).isEmpty, "the rollup rolls back with the counters")
            // The writer's connection is usable again, and the retried batch applies once.
            #expect(try await store.commit(batch) == [true, true])
            #expect(try await store.commit(batch) == [false, false])
            #expect(try await store.counterValue(Self.searches) == 4)
            #expect(try await store.counterValue(Self.notes) == 2)
            #expect(try await Self.rollup(store) == ["allowed": [4, 1]])
        }
    }
}
