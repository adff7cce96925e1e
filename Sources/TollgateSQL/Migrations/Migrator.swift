import SQLKit
import TollgateStorage

/// One numbered schema change. The SQL is written once and is valid on SQLite and PostgreSQL
/// (TEXT, BIGINT and composite primary keys mean the same on both). Never edit a shipped one.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: [String]
    /// Run on PostgreSQL only, after `statements`: what only it has (a BRIN index).
    var postgresStatements: [String] = []
    /// Run on SQLite only, after `statements`: what stands in for a PostgreSQL feature.
    var sqliteStatements: [String] = []
}

enum Migrations {
    /// Every migration, in version order: a file per range of versions.
    static let all: [Migration] =
        versions1to4 + versions5to8 + version9 + version10 + versions11to19 + versions20to31 + version32
        + versions33to35 + version36
}

/// Applies pending migrations, each in its own transaction. Safe when several processes start at
/// once: PostgreSQL takes an advisory lock, SQLite's `BEGIN IMMEDIATE` already serializes writers.
public enum Migrator {
    @discardableResult
    public static func migrate(_ provider: any DatabaseProvider) async throws -> [Int] {
        try await migrate(provider, upTo: Int.max)
    }

    /// Applies the pending migrations up to `version` (a test builds an old release's schema).
    @discardableResult
    static func migrate(_ provider: any DatabaseProvider, upTo version: Int) async throws -> [Int] {
        try await provider.transaction { db in
            try await db.raw(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
                applied_at_ms BIGINT NOT NULL)
                """
            ).run()
        }
        var applied: [Int] = []
        for migration in Migrations.all where migration.version <= version {
            let didApply = try await provider.transaction { db -> Bool in
                if provider.kind == .postgres {
                    try await db.raw("SELECT pg_advisory_xact_lock(7315)").run()
                }
                let existing = try await db.raw(
                    "SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)"
                ).first()
                if existing != nil { return false }
                do {
                    for statement in migration.statements
                        + (provider.kind == .postgres ? migration.postgresStatements : migration.sqliteStatements)
                    {
                        try await db.raw(SQLQueryString(statement)).run()
                    }
                } catch {
                    throw StoreError.migrationFailed(version: migration.version, underlying: String(reflecting: error))
                }
                try await db.raw(
                    """
                    INSERT INTO schema_migrations (version, name, applied_at_ms)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Millis.now()))
                    """
                ).run()
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    public static var latestVersion: Int { Migrations.all.last?.version ?? 0 }
}
