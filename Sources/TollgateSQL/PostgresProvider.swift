import Foundation
import Logging
import PostgresKit
import PostgresNIO
import SQLKit
import TollgateStorage

/// PostgreSQL through PostgresNIO's connection pool; several Tollgate nodes may share one database.
public final class PostgresProvider: DatabaseProvider {
    public let kind = DatabaseKind.postgres
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let logger: Logger
    private let faults: UsageWriteFaults?
    public let announcements = CommitAnnouncements()

    public init(url: String, maximumConnections: Int = 10, logger: Logger, faults: UsageWriteFaults? = nil) throws {
        self.faults = faults
        var configuration = try Self.configuration(from: url)
        configuration.options.maximumConnections = maximumConnections
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let client = self.client
        // Started immediately, on this thread up to its first suspension: the client is running
        // before anyone can lease a connection from it (a plain Task may start later, and then
        // PostgresNIO warns "run() hasn't been called yet" at every early lease).
        runTask = Task.immediate { await client.run() }
        self.logger = logger
    }

    /// Parses `postgres://user:password@host:port/database[?sslmode=disable|prefer|require]`.
    public static func configuration(from url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url),
            ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty,
            let user = components.user, !user.isEmpty
        else {
            throw StoreError.invalidConfiguration("expected postgres://user:password@host:port/database, got \(url)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        default: throw StoreError.invalidConfiguration("sslmode must be disable, prefer or require, got \(sslMode)")
        }
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user,
            password: components.password?.removingPercentEncoding, database: database.isEmpty ? nil : database,
            tls: tls
        )
    }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await body(connection.sql(queryLogLevel: nil))
        }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await announcements.collecting {
                try await client.withTransaction(logger: logger) { connection in
                    try await body(connection.sql(queryLogLevel: nil))
                }
            }
        } catch let error as PostgresTransactionError {
            // Surface the body's own error, as SQLite does, once the rollback went through.
            if let closureError = error.closureError, error.rollbackError == nil { throw closureError }
            throw error
        }
    }

    public var usageWriter: any UsageWriter { SQLKitUsageWriter(provider: self, faults: faults) }

    public func notify(_ db: any SQLDatabase, channel: String, payload: String) async throws {
        try await db.raw("SELECT pg_notify(\(bind: channel), \(bind: payload))").run()
        announcements.announce(channel: channel, payload: payload)
    }

    /// LISTEN on a connection of the pool held for as long as this runs.
    public func listen(
        channel: String, ready: @escaping @Sendable () -> Void, received: @escaping @Sendable (String) -> Void
    ) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: channel) { notifications in
                ready()
                for try await notification in notifications { received(notification.payload) }
            }
        }
    }

    public func shutdown() async {
        runTask.cancel()
        await runTask.value
    }
}

public enum StoreError: Error, Sendable, CustomStringConvertible {
    case invalidConfiguration(String)
    case migrationFailed(version: Int, underlying: String)
    /// A listener fell so far behind that notifications it had not read were pruned.
    case notificationsMissed

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): return "invalid database configuration: \(message)"
        case .migrationFailed(let version, let underlying): return "migration \(version) failed: \(underlying)"
        case .notificationsMissed: return "notifications were pruned before this listener read them"
        }
    }
}
