import Foundation
import Logging
import NIOCore
import SQLKit
import SQLiteNIO

/// Backups of the embedded database (`tollgate backup` / `tollgate restore`): one file, a SQLite
/// database holding a consistent copy of the data as it stood when the backup began — taken by
/// `VACUUM INTO` on a reader, so the server goes on writing meanwhile — and, in a table of its
/// own, the data directory's other files (the keys), so that a restore is a whole data directory.
/// PostgreSQL has its own tools (pg_dump, point-in-time recovery).
public enum SQLiteBackup {
    static let filesTable = "tollgate_backup_files"

    public enum Failure: Error, CustomStringConvertible {
        case notSQLite
        case exists(String)
        case notABackup(String)
        case unsafePath(String)

        public var description: String {
            switch self {
            case .notSQLite:
                return "only the embedded SQLite database is backed up this way: use pg_dump (or PostgreSQL's "
                    + "point-in-time recovery) for PostgreSQL"
            case .exists(let path): return "\(path) exists already: choose a new file or an empty data directory"
            case .notABackup(let path): return "\(path) is not a Tollgate backup"
            case .unsafePath(let path): return "the backup names a file outside the data directory: \(path)"
            }
        }
    }

    /// Writes the backup of `store` to `destination` (a new file), with `files` (paths relative to
    /// the data directory, and their contents) inside it.
    public static func write(
        _ store: SQLStore, to destination: String, files carried: [String: Data], logger: Logger
    ) async throws {
        guard let sqlite = store.provider as? SQLiteProvider else { throw Failure.notSQLite }
        guard !FileManager.default.fileExists(atPath: destination) else { throw Failure.exists(destination) }
        // The copy is made inside a directory only we may enter, beside the destination (one file
        // system), and moved into place once whole: at no moment can another user read it, whatever
        // the umask, nor see a half-written backup.
        let files = FileManager.default
        let staging = try privateStaging(beside: destination)
        defer { try? files.removeItem(atPath: staging) }
        let copy = (staging as NSString).appendingPathComponent("backup.sqlite")
        // A connection of its own (the store's readers are query-only): VACUUM INTO reads one
        // snapshot, every transaction committed before it began and none after, while the server
        // goes on writing to the WAL.
        let source = try await SQLiteConnection.open(storage: .file(path: sqlite.path), logger: logger)
        do {
            _ = try await source.query("VACUUM INTO ?", [.text(copy)])
            try await source.close()
        } catch {
            try? await source.close()
            throw error
        }
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: copy)
        let connection = try await SQLiteConnection.open(storage: .file(path: copy), logger: logger)
        do {
            _ = try await connection.query(
                "CREATE TABLE \(filesTable) (path TEXT PRIMARY KEY, content BLOB NOT NULL)", [])
            for (path, content) in carried.sorted(by: { $0.key < $1.key }) {
                _ = try await connection.query(
                    "INSERT INTO \(filesTable) (path, content) VALUES (?, ?)",
                    [.text(path), .blob(ByteBuffer(bytes: content))])
            }
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
        // Fails rather than replace a file that appeared meanwhile.
        try files.moveItem(atPath: copy, toPath: destination)
    }

    /// A new directory beside `destination` that only this user may enter (0700, whatever the
    /// umask), where a backup is written before it is moved into place.
    static func privateStaging(beside destination: String) throws -> String {
        let staging = destination + ".partial-" + UUID().uuidString.prefix(8).lowercased()
        guard mkdir(staging, 0o700) == 0 else { throw StoreError.invalidConfiguration("cannot create \(staging)") }
        // mkdir's mode passes through the umask, which can only take permissions away.
        guard chmod(staging, 0o700) == 0 else { throw StoreError.invalidConfiguration("cannot protect \(staging)") }
        return staging
    }

    /// Makes `directory` (which must hold no database yet) from the backup at `source`: the
    /// database, and the files it carries. Returns their paths.
    @discardableResult
    public static func restore(from source: String, into directory: String, logger: Logger) async throws -> [String] {
        let files = FileManager.default
        let database = try SQLiteProvider.prepareDataDirectory(directory, logger: logger)
        let existing = (try? files.attributesOfItem(atPath: database)[.size] as? Int) ?? 0
        guard existing == 0 else { throw Failure.exists(database) }
        try files.removeItem(atPath: database)
        try files.copyItem(atPath: source, toPath: database)
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: database)
        let connection = try await SQLiteConnection.open(storage: .file(path: database), logger: logger)
        do {
            let rows: [SQLiteRow]
            do {
                rows = try await connection.query("SELECT path, content FROM \(filesTable) ORDER BY path", [])
            } catch {
                throw Failure.notABackup(source)
            }
            var restored: [String] = []
            for row in rows {
                guard let path = row.column("path")?.string, let content = row.column("content")?.blob else { continue }
                guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                    throw Failure.unsafePath(path)
                }
                let target = (directory as NSString).appendingPathComponent(path)
                try files.createDirectory(
                    atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
                guard
                    files.createFile(
                        atPath: target, contents: Data(content.readableBytesView),
                        attributes: [.posixPermissions: 0o600])
                else { throw StoreError.invalidConfiguration("cannot write \(target)") }
                restored.append(path)
            }
            _ = try await connection.query("DROP TABLE \(filesTable)", [])
            try await connection.close()
            return restored
        } catch {
            try? await connection.close()
            try? files.removeItem(atPath: database)
            throw error
        }
    }
}
