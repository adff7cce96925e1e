import Foundation
import SQLKit
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateStorage

@testable import TollgateSQL

/// Migrations are history: a database made by the first release (migrations 1–4: customers, keys,
/// counters, idempotency records) with data in it is migrated to today's schema, on both
/// databases, and today's code reads what it held.
@Suite struct MigrationHistoryTests {
    @Test(arguments: TestDatabase.all)
    func theFirstReleasesDatabaseMigratesToTodays(database: TestDatabase) async throws {
        let location = try await database.makeLocation()
        do {
            try await migrateTheFirstRelease(location)
            await location.cleanup()
        } catch {
            await location.cleanup()
            throw error
        }
    }

    func migrateTheFirstRelease(_ location: TestDatabaseLocation) async throws {
        let provider: any DatabaseProvider
        switch location.location {
        case .sqlite(let directory):
            provider = try await SQLiteProvider.open(directory: directory, logger: TestDatabase.logger)
        case .postgres(let url): provider = try PostgresProvider(url: url, logger: TestDatabase.logger)
        }
        #expect(try await Migrator.migrate(provider, upTo: 4) == [1, 2, 3, 4])
        let t = Millis.from(Fixtures.utc(2025, 1, 15))
        let hash = OpaqueDigest.hex("tg_sk_first_release_key")
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO customers (id, email, name, plan_id, billing_anchor_ms, created_at_ms, updated_at_ms)
                VALUES ('c1', 'ada@example.com', 'Ada', 'pro', \(bind: t), \(bind: t), \(bind: t))
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO api_keys (id, prefix, secret_hash, scopes, name, created_at_ms)
                VALUES ('key_1', 'tg_sk_first', \(bind: hash), 'admin', 'first release', \(bind: t))
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO usage_counters
                    (subject, feature, period_start_ms, period_end_ms, period, used, updated_at_ms)
                VALUES ('customer:c1', 'searches', \(bind: t), NULL, 'lifetime', 42, \(bind: t))
                """
            ).run()
        }
        await provider.shutdown()

        // Opening the store migrates the rest, as a new release does at start.
        let store = try await SQLStore.open(location.location, logger: TestDatabase.logger)
        do {
            try await readToday(store)
            await store.shutdown()
        } catch {
            await store.shutdown()
            throw error
        }
    }

    /// What the first release stored, read by today's code.
    func readToday(_ store: SQLStore) async throws {
        let customer = try #require(try await store.customer(id: "c1"))
        #expect(customer.planId == "pro" && customer.email == "ada@example.com" && customer.name == "Ada")
        #expect(try await store.customerStatus(id: "c1") == .free, "a status every customer now has")
        let key = try #require(try await store.apiKey(id: "key_1"))
        #expect(key.name == "first release" && key.scopes == ["admin"] && key.revokedAt == nil)
        let versions = try await store.provider.read { db in
            try await db.raw("SELECT version FROM schema_migrations ORDER BY version").all().map {
                try $0.decode(column: "version", as: Int.self)
            }
        }
        #expect(versions == Array(1...Migrator.latestVersion), "every migration applied once, in order")
        let used = try await store.provider.read { db in
            try await db.raw("SELECT used FROM usage_counters WHERE subject = 'customer:c1'").first()?.decode(
                column: "used", as: Int64.self)
        }
        #expect(used == 42, "the counters kept what they counted")
    }

    /// A shipped migration is history: plain SQL, never a call into today's code (which changes
    /// with the code, and would change what an old migration does).
    @Test func migrationsAreSelfContainedSQL() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/TollgateSQL/Migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasPrefix("Migrations0")
        }
        #expect(files.count >= 5)
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            #expect(!text.contains("SQLStore") && !text.contains("\\("), "\(file) calls into live code")
        }
    }
}
