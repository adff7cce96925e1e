import SQLKit

public enum DatabaseKind: String, Sendable {
    case sqlite
    case postgres
}

/// Runs SQL on SQLite or PostgreSQL through one interface (SQLKit), so that every query above
/// this layer is written once.
public protocol DatabaseProvider: Sendable {
    var kind: DatabaseKind { get }
    /// Runs `body` on a connection that sees all committed data.
    func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func shutdown() async
}

/// Where the data lives, parsed from the command line.
public enum DatabaseLocation: Sendable, Equatable {
    /// A SQLite file inside this directory (created when missing).
    case sqlite(directory: String)
    /// A `postgres://user:pass@host:port/db` URL.
    case postgres(url: String)
}
