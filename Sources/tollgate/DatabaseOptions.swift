import ArgumentParser
import Foundation
import Logging
import TollgateBench
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateNotify
import TollgateSQL
import TollgateServer
import TollgateStorage

/// Where the data is: a SQLite directory by default, or a PostgreSQL URL.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: """
            Data directory: the embedded SQLite database and the master key (default ./tollgate-data; with \
            --database, where the master key is).
            """)
    var dataDirectoryOption: String?

    var dataDirectory: String { dataDirectoryOption ?? "./tollgate-data" }

    @Option(help: "PostgreSQL URL (postgres://user:pass@host:port/db); overrides --data-dir.")
    var database: String?

    var location: DatabaseLocation {
        if let database { return .postgres(url: database) }
        return .sqlite(directory: dataDirectory)
    }

    /// Opens the database (applying migrations), runs `body` on it, and closes it whatever
    /// `body` did.
    func withStore<T: Sendable>(_ body: (SQLStore) async throws -> T) async throws -> T {
        let store = try await SQLStore.open(location, logger: Logger(label: "tollgate"))
        do {
            let result = try await body(store)
            await store.shutdown()
            return result
        } catch {
            await store.shutdown()
            throw error
        }
    }

    /// Records a command's change in the audit trail, as done at this terminal (actor `system`,
    /// `cli:<user>`). A data directory (SQLite's, or one named with --data-dir) makes its master
    /// key on first use, as the server would; with only --database and no key in the default
    /// directory, it says so on stderr rather than make a key nobody else has.
    func recordInAuditTrail(
        _ store: SQLStore, action: String, target: String?, before: (any Encodable)? = nil,
        after: (any Encodable)? = nil, box given: SecretBox? = nil
    ) async {
        do {
            guard
                given != nil || database == nil || dataDirectoryOption != nil
                    || KeyDirectory(dataDirectory: dataDirectory).hasMasterKey()
            else {
                throw KeyDirectoryError.invalid("no master key in \(dataDirectory) nor in TOLLGATE_MASTER_KEY")
            }
            let box: SecretBox
            if let given { box = given } else { box = try await secretBox(store: store) }
            let trail = AuditTrail(store: store, box: box, clock: SystemClock())
            var draft = trail.draft(
                actor: AuditActor(kind: .system, id: "cli:" + NSUserName()), action: action, target: target)
            draft.before = AuditTrail.state(before)
            draft.after = AuditTrail.state(after)
            try await trail.record(draft)
        } catch {
            FileHandle.standardError.write(Data("tollgate: not recorded in the audit trail: \(error)\n".utf8))
        }
    }

    /// The master key, once a rotation a crash interrupted is settled.
    func secretBox(store: SQLStore) async throws -> SecretBox {
        let directory = KeyDirectory(dataDirectory: dataDirectory)
        try await MasterKeyRotation.settle(directory: directory, store: store)
        return try directory.secretBox()
    }

    var summary: String {
        switch location {
        case .sqlite(let directory): return "SQLite in \(directory)"
        case .postgres: return "PostgreSQL"
        }
    }
}
