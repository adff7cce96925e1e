import Foundation
import SQLKit
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

/// What idempotency costs the disk is shown (`tollgate status`): rows and bytes
/// of every table, on both databases.
@Suite struct TableSizeTests {
    @Test(arguments: TestDatabase.all)
    func theIdempotencyTableShowsItsRowsAndBytes(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let at = Fixtures.utc(2026, 5, 14)
            let entries = (0..<500).map { index in
                UsageEntry(
                    deltas: [
                        CounterDelta(
                            key: CounterKey(subject: "customer:c1", feature: "notes", periodStartMillis: 0),
                            period: "lifetime", periodEndMillis: nil, delta: 1)
                    ],
                    record: IdempotencyRecord(
                        scope: "consume:c1", key: "key-\(index)-\(UUID().uuidString)", fingerprint: "notes|1|",
                        response: "1|3|2", createdAt: at))
            }
            _ = try await store.commit(UsageBatch(entries: entries, at: at))
            if database == .postgres {
                // PostgreSQL's row counts are its statistics: refreshed here as autovacuum would.
                try await store.provider.transaction { db in try await db.raw("ANALYZE idempotency_keys").run() }
            }
            let sizes = try await store.tableSizes()
            let keys = try #require(sizes.first { $0.table == "idempotency_keys" })
            #expect(keys.rows == 500)
            #expect(keys.bytes > 500 * 40, "at least the keys themselves")
            #expect((keys.bytesPerRow ?? 0) > 0 && (keys.bytesPerRow ?? .max) < 2_000)
            #expect(sizes.contains { $0.table == "customers" })
        }
    }
}
