import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateMeter
import TollgateSQL
import TollgateStorage

@testable import TollgateServer

/// Idempotency records older than the retention are purged, oldest first and in batches; a key
/// purged is forgotten (its retry counts again), a key within the retention still replays.
@Suite struct IdempotencyRetentionTests {
    static func entry(_ key: String, at date: Date) -> UsageEntry {
        UsageEntry(
            deltas: [
                CounterDelta(
                    key: CounterKey(subject: "customer:c1", feature: "calls", periodStartMillis: 0), period: "lifetime",
                    periodEndMillis: nil, delta: 1)
            ],
            record: IdempotencyRecord(
                scope: "consume:c1", key: key, fingerprint: "calls|1|", response: "1;1;~;1;~;~;~", createdAt: date)
        )
    }

    @Test(arguments: TestDatabase.all)
    func theStoreDeletesOnlyRecordsOlderThanTheCutoffInBatches(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let now = Fixtures.utc(2026, 6, 1)
            let old = (0..<5).map { Self.entry("old-\($0)", at: now.addingTimeInterval(-40 * 86_400 + Double($0))) }
            let recent = (0..<3).map { Self.entry("new-\($0)", at: now.addingTimeInterval(-86_400 + Double($0))) }
            try await store.commit(UsageBatch(entries: old, at: now))
            try await store.commit(UsageBatch(entries: recent, at: now))
            let cutoff = now.addingTimeInterval(-30 * 86_400)
            #expect(try await store.purgeIdempotencyRecords(createdBefore: cutoff, limit: 2) == 2)
            #expect(try await store.purgeIdempotencyRecords(createdBefore: cutoff, limit: 2) == 2)
            #expect(try await store.purgeIdempotencyRecords(createdBefore: cutoff, limit: 2) == 1)
            #expect(try await store.purgeIdempotencyRecords(createdBefore: cutoff, limit: 2) == 0)
            for index in 0..<5 {
                #expect(try await store.idempotencyRecord(scope: "consume:c1", key: "old-\(index)") == nil)
            }
            for index in 0..<3 {
                #expect(try await store.idempotencyRecord(scope: "consume:c1", key: "new-\(index)") != nil)
            }
            // Counts are not records: purging keys changes no counter.
            #expect(
                try await store.counterValue(CounterKey(subject: "customer:c1", feature: "calls", periodStartMillis: 0))
                    == 8)
        }
    }

    @Test(arguments: TestDatabase.all)
    func aRetryAfterTheRetentionCountsAgainAndOneWithinItReplays(database: TestDatabase) async throws {
        let catalog = try Fixtures.catalog
        let clock = ManualClock(Fixtures.utc(2026, 5, 1))
        try await database.withStore { store, _ in
            let janitor = IdempotencyJanitor(
                store: store, clock: clock, retention: 30 * 86_400, logger: TestDatabase.logger, batchSize: 2)
            try await MeterHarness.withService(store: store, catalog: catalog, clock: clock) { service in
                _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
                for key in ["a", "b", "c"] {
                    _ = try await service.consume(
                        customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: key)
                }
                clock.advance(by: 20 * 86_400)
                let recent = try await service.consume(
                    customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "d")
                clock.advance(by: 15 * 86_400)
                #expect(try await janitor.purge() == 3)
                #expect(try await janitor.purge() == 0)
                // "d" is 15 days old: replayed, not counted.
                #expect(
                    try await service.consume(customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "d")
                        == recent)
                // "a" is 35 days old and forgotten: a new consume.
                let again = try await service.consume(
                    customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "a")
                #expect(again.allowed && again.used == 5)
            }
        }
    }
}
