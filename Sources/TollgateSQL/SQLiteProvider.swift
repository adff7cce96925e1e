import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization
import TollgateStorage

/// SQLite with connections we own: one writer (all transactions go through it, in order, which is
/// what group commit wants) and a few readers beside it. WAL lets readers run while the writer
/// commits; `synchronous=FULL` makes every acknowledged commit survive a crash.
public final class SQLiteProvider: DatabaseProvider {
    public let kind = DatabaseKind.sqlite
    public let path: String
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    /// The meter's group commits: prepared statements on a connection of their own, taking
    /// turns with `writer` under `writeLock`.
    private let cAPIWriter: SQLiteUsageWriter
    private let writeLock = AsyncMutex()
    public let announcements = CommitAnnouncements()
    private let nextReader = Atomic<Int>(0)

    private let checkpointer: SQLiteCheckpointer
    private let logger: Logger
    private let writerChoice: UsageWriterChoice
    private let faults: UsageWriteFaults?

    /// Which writer applies the meter's group commits: SQLite's C API (production), or the SQLKit
    /// statements PostgreSQL uses (for the contract suite that proves the two alike).
    public enum UsageWriterChoice: Sendable {
        case cAPI
        case sqlKit
    }

    private init(
        path: String, writer: SQLiteConnection, readers: [SQLiteConnection], usageWriter: SQLiteUsageWriter,
        checkpointer: SQLiteCheckpointer, logger: Logger, writerChoice: UsageWriterChoice, faults: UsageWriteFaults?
    ) {
        self.path = path
        self.logger = logger
        self.writerChoice = writerChoice
        self.faults = faults
        self.checkpointer = checkpointer
        self.writer = writer
        self.readers = readers
        self.cAPIWriter = usageWriter
    }

    /// Per-connection settings of every connection. busy_timeout replaces sqlite-nio's
    /// retry-forever busy handler: another process (a CLI command beside a running server) waits
    /// up to 5 s, then fails instead of hanging. A 64 MiB page cache keeps the B-tree pages a
    /// group commit touches in memory.
    private static let pragmas = [
        "PRAGMA busy_timeout = 5000", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON",
        "PRAGMA cache_size = -65536",
    ]
    /// The provider's own writer checkpoints by itself only past ~40 MB of WAL: the meter's
    /// commits, nearly all of the writes, have the checkpointer do it off their path.
    private static let checkpointEvery = "PRAGMA wal_autocheckpoint = 10000"
    /// A WAL file grown under load is cut back to 64 MiB when it restarts.
    private static let walSizeLimit = "PRAGMA journal_size_limit = 67108864"

    /// When the WAL is copied back into the database file (in pages of 4 KiB).
    public struct CheckpointPolicy: Sendable {
        /// A commit leaving at least this many pages in the WAL starts a background checkpoint.
        public var afterPages: Int32
        /// Beyond this many, the writer rewinds the WAL between two batches.
        public var rewindBeyondPages: Int32

        public init(afterPages: Int32 = 10_000, rewindBeyondPages: Int32 = 40_000) {
            self.afterPages = afterPages
            self.rewindBeyondPages = rewindBeyondPages
        }
    }

    /// Opens (creating if needed) `tollgate.sqlite` in `directory`.
    public static func open(
        directory: String, readerCount: Int = 2, checkpoints: CheckpointPolicy = CheckpointPolicy(), logger: Logger,
        usageWriter writerChoice: UsageWriterChoice = .cAPI, faults: UsageWriteFaults? = nil
    ) async throws -> SQLiteProvider {
        let path = try prepareDataDirectory(directory, logger: logger)
        let writer = try await openConnection(path: path, logger: logger)
        // WAL is a property of the file: set it once, from the writer, before readers open.
        try await execute(writer, "PRAGMA journal_mode = WAL")
        try await execute(writer, checkpointEvery)
        let checkpointer = try SQLiteCheckpointer(
            path: path, pragmas: pragmas + [walSizeLimit], threshold: checkpoints.afterPages,
            ceiling: checkpoints.rewindBeyondPages
        )
        let usageWriter = try SQLiteUsageWriter(
            path: path, pragmas: pragmas + [walSizeLimit], checkpointer: checkpointer, faults: faults)
        var readers: [SQLiteConnection] = []
        for _ in 0..<max(1, readerCount) {
            let reader = try await openConnection(path: path, logger: logger)
            try await execute(reader, "PRAGMA query_only = ON")
            readers.append(reader)
        }
        return SQLiteProvider(
            path: path, writer: writer, readers: readers, usageWriter: usageWriter, checkpointer: checkpointer,
            logger: logger, writerChoice: writerChoice, faults: faults)
    }

    /// Makes `directory` (0700) and an empty `tollgate.sqlite` (0600) when missing, whichever
    /// command comes first: SQLite gives its -wal and -shm files the database file's mode. Warns
    /// when an existing directory can be read by others. Returns the database file's path.
    static func prepareDataDirectory(_ directory: String, logger: Logger) throws -> String {
        let files = FileManager.default
        if files.fileExists(atPath: directory) {
            let mode = (try? files.attributesOfItem(atPath: directory)[.posixPermissions] as? Int) ?? 0
            if mode & 0o077 != 0 {
                logger.warning(
                    "the data directory can be read by other users: chmod 700 it",
                    metadata: ["directory": "\(directory)", "mode": "\(String(mode, radix: 8))"]
                )
            }
        } else {
            try files.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let path = (directory as NSString).appendingPathComponent("tollgate.sqlite")
        if !files.fileExists(atPath: path) {
            guard files.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError.invalidConfiguration("cannot create \(path)")
            }
        }
        return path
    }

    private static func openConnection(path: String, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        for pragma in pragmas {
            try await execute(connection, pragma)
        }
        return connection
    }

    private static func execute(_ connection: SQLiteConnection, _ sql: String) async throws {
        try await connection.query(sql, [], { _ in })
    }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        let reader = readers[abs(index) % readers.count]
        return try await body(reader.sql(queryLogLevel: nil))
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await announcements.collecting {
            try await writeLock.withLock {
                try await Self.execute(writer, "BEGIN IMMEDIATE")
                do {
                    let result = try await body(writer.sql(queryLogLevel: nil))
                    try await Self.execute(writer, "COMMIT")
                    return result
                } catch {
                    try? await Self.execute(writer, "ROLLBACK")
                    throw error
                }
            }
        }
    }

    /// How many notifications the table keeps: a listener further behind than this starts over
    /// (drops everything it cached), as after a lost PostgreSQL connection.
    static let keptNotifications = 10_000

    public func notify(_ db: any SQLDatabase, channel: String, payload: String) async throws {
        try await db.raw(
            """
            INSERT INTO notifications (channel, payload, created_at_ms)
            VALUES (\(bind: channel), \(bind: payload), \(bind: Millis.now()))
            """
        ).run()
        try await db.raw(
            """
            DELETE FROM notifications
            WHERE seq <= (SELECT MAX(seq) FROM notifications) - \(bind: Self.keptNotifications)
            """
        ).run()
        announcements.announce(channel: channel, payload: payload)
    }

    /// Polls for notifications that any process committed to this file: `PRAGMA data_version`
    /// on a connection of its own changes only when another connection commits, so an idle
    /// database costs one cheap pragma per `interval`.
    public func listen(
        channel: String, ready: @escaping @Sendable () -> Void, received: @escaping @Sendable (String) -> Void
    ) async throws {
        try await listen(channel: channel, interval: .milliseconds(200), ready: ready, received: received)
    }

    func listen(
        channel: String, interval: Duration, ready: @escaping @Sendable () -> Void,
        received: @escaping @Sendable (String) -> Void
    ) async throws {
        // Opened outside this task's cancellation, like `close`: a connection half-opened when the
        // task is cancelled would never be closed.
        let (path, logger) = (path, logger)
        let connection = try await Task {
            let connection = try await Self.openConnection(path: path, logger: logger)
            do {
                try await Self.execute(connection, "PRAGMA query_only = ON")
                return connection
            } catch {
                try? await connection.close()
                throw error
            }
        }.value
        do {
            var seen = try await Self.integer(connection, "SELECT COALESCE(MAX(seq), 0) AS value FROM notifications")
            var version = try await Self.integer(connection, "PRAGMA data_version")
            ready()
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                let now = try await Self.integer(connection, "PRAGMA data_version")
                guard now != version else { continue }
                version = now
                // Sequence numbers have no gaps (a rolled-back insert gives its number back), so a
                // first row past the next one means rows this listener never read were pruned.
                let oldest = try await Self.integer(
                    connection, "SELECT COALESCE(MIN(seq), 0) AS value FROM notifications")
                if oldest > seen + 1 { throw StoreError.notificationsMissed }
                let rows = try await connection.query(
                    "SELECT seq, channel, payload FROM notifications WHERE seq > ? ORDER BY seq", [.integer(Int(seen))])
                for row in rows {
                    seen = max(seen, Int64(row.column("seq")?.integer ?? 0))
                    if row.column("channel")?.string == channel, let payload = row.column("payload")?.string {
                        received(payload)
                    }
                }
            }
            await Self.close(connection)
        } catch {
            await Self.close(connection)
            throw error
        }
    }

    /// Closes `connection` even when the calling task was cancelled (sqlite-nio's close gives up
    /// on a cancelled task, and an unclosed connection traps in its deinit).
    private static func close(_ connection: SQLiteConnection) async {
        await Task { try? await connection.close() }.value
    }

    private static func integer(_ connection: SQLiteConnection, _ sql: String) async throws -> Int64 {
        let rows = try await connection.query(sql, [])
        return Int64(rows.first?.columns.first?.data.integer ?? 0)
    }

    public var usageWriter: any UsageWriter {
        switch writerChoice {
        case .cAPI: return CAPIWriter(provider: self)
        case .sqlKit: return SQLKitUsageWriter(provider: self, faults: faults)
        }
    }

    /// The C-API writer, taking turns with every other write.
    private struct CAPIWriter: UsageWriter {
        let provider: SQLiteProvider

        func commit(_ batch: UsageBatch) async throws -> [Bool] {
            try await provider.writeLock.withLock { try await provider.cAPIWriter.commit(batch) }
        }
    }

    public func shutdown() async {
        await cAPIWriter.close()
        await checkpointer.close()
        // Closed outside the caller's cancellation: a server that fails to start (its port taken)
        // shuts down from a cancelled task, and sqlite-nio's close gives up there, leaving
        // connections that trap when deinitialized.
        for connection in readers + [writer] { await Self.close(connection) }
    }
}
