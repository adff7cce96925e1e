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

    /// Runs `body` with this command as the audit trail's recorder: the services it calls write
    /// their entries as done at this terminal (actor `system`, `cli:<user>`), in the transaction
    /// of their change. Without a master key (`auditBox`), the change is made and stderr says it
    /// went unrecorded.
    func audited<T: Sendable>(
        _ store: SQLStore, box given: SecretBox? = nil, _ body: () async throws -> T
    ) async throws -> T {
        guard let box = await auditBox(store, given: given) else { return try await body() }
        let trail = AuditTrail(store: store, box: box, clock: SystemClock())
        let recorder = CommandAudit(actor: Self.terminalActor, trail: trail, sealer: try await trail.chain())
        return try await Audit.$recorder.withValue(recorder) { try await body() }
    }

    /// Records a change a command made itself, outside any service (a key rotated), through the
    /// audit trail in a transaction of its own, as done at this terminal; a failure is said on
    /// stderr.
    func recordInAuditTrail(
        _ store: SQLStore, action: String, target: String?, before: (any Encodable)? = nil,
        after: (any Encodable)? = nil, box given: SecretBox? = nil
    ) async {
        guard let box = await auditBox(store, given: given) else { return }
        let change = AuditChange(action, target: target, before: before, after: after)
        do {
            let trail = AuditTrail(store: store, box: box, clock: SystemClock())
            let recorder = CommandAudit(actor: Self.terminalActor, trail: trail, sealer: try await trail.chain())
            try await trail.record(recorder.draft(change))
        } catch {
            FileHandle.standardError.write(Data("tollgate: not recorded in the audit trail: \(error)\n".utf8))
        }
    }

    static var terminalActor: AuditActor { AuditActor(kind: .system, id: "cli:" + NSUserName()) }

    /// The master key that seals this command's entries: `given`, or the data directory's. A data
    /// directory (SQLite's, or one named with --data-dir) makes its master key on first use, as
    /// the server would; with only --database and no key in the default directory, nil, and
    /// stderr says so rather than make a key nobody else has.
    private func auditBox(_ store: SQLStore, given: SecretBox?) async -> SecretBox? {
        if let given { return given }
        do {
            guard
                database == nil || dataDirectoryOption != nil
                    || KeyDirectory(dataDirectory: dataDirectory).hasMasterKey()
            else {
                throw KeyDirectoryError.invalid("no master key in \(dataDirectory) nor in TOLLGATE_MASTER_KEY")
            }
            return try await secretBox(store: store)
        } catch {
            FileHandle.standardError.write(Data("tollgate: not recorded in the audit trail: \(error)\n".utf8))
            return nil
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

/// A command's half of its audit entries: the terminal's user.
struct CommandAudit: AuditRecorder {
    let actor: AuditActor
    let trail: AuditTrail
    let sealer: any AuditSealer

    func record(_ change: AuditChange, in tx: any AuditStore) async throws {
        guard !change.isUnchanged else { return }
        try await tx.appendAuditEvent(draft(change), sealer: sealer)
    }

    /// The entry for `change`, made at this terminal now.
    func draft(_ change: AuditChange) -> AuditDraft {
        var draft = trail.draft(actor: change.actor ?? actor, action: change.action, target: change.target)
        draft.workspaceId = change.workspaceId
        draft.before = change.before
        draft.after = change.after
        return draft
    }
}
