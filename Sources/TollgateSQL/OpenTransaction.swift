import SQLKit
import TollgateStorage

/// A transaction already open, as a provider: whatever a store built on it reads or writes runs on
/// the transaction's connection, inside it, and a transaction opened on it joins it (an error
/// ends the whole; there is no partial rollback).
struct OpenTransaction: DatabaseProvider {
    let base: any DatabaseProvider
    let db: any SQLDatabase

    var kind: DatabaseKind { base.kind }
    var usageWriter: any UsageWriter { base.usageWriter }
    var announcements: CommitAnnouncements { base.announcements }

    func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await body(db)
    }

    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await body(db)
    }

    /// The store that opened the transaction closes the database, not a store within it.
    func shutdown() async {}

    func notify(_ db: any SQLDatabase, channel: String, payload: String) async throws {
        try await base.notify(db, channel: channel, payload: payload)
    }

    func listen(
        channel: String, ready: @escaping @Sendable () -> Void, received: @escaping @Sendable (String) -> Void
    ) async throws {
        try await base.listen(channel: channel, ready: ready, received: received)
    }
}

extension SQLStore {
    public func transaction<T: Sendable>(_ body: @Sendable (any Storage) async throws -> T) async throws -> T {
        if provider is OpenTransaction { return try await body(self) }
        let base = provider
        return try await base.transaction { db in
            try await body(SQLStore(provider: OpenTransaction(base: base, db: db)))
        }
    }
}
