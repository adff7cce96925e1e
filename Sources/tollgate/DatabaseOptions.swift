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

    /// Opens the database and runs `body` with the services the server builds (`Services`), as
    /// this command, recorded in the audit trail as done at this terminal. `catalog`: the catalog
    /// file (the bundled demo one by default). `sealing`: the command seals or opens secrets, so
    /// it needs the master key (made in the data directory on first use, as the server would);
    /// otherwise, without a key at hand (only --database), its change is made unrecorded and
    /// stderr says so — the services it calls then seal nothing, and the key they are given is
    /// one for this run only, which nothing keeps.
    func withServices<T: Sendable>(
        catalog path: String? = nil, sealing: Bool = false, _ body: (Services) async throws -> T
    ) async throws -> T {
        let catalog = try DefaultCatalog.load(path: path)
        return try await withStore { store in
            let box = sealing ? try await secretBox(store: store) : await auditBox(store, given: nil)
            let services = Services.forCommand(
                store: store, catalog: catalog, secretBox: box ?? SecretBox(keyData: SecretBox.generateKey())!,
                logger: Logger(label: "tollgate"))
            guard let box else { return try await body(services) }
            // This command is the audit trail's recorder: the services it calls write their
            // entries as done at this terminal, in the transaction of their change.
            let trail = AuditTrail(store: store, box: box, clock: SystemClock())
            let recorder = CommandAudit(actor: Self.terminalActor, trail: trail, sealer: try await trail.chain())
            return try await Audit.$recorder.withValue(recorder) { try await body(services) }
        }
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

    func record(_ changes: [AuditChange], in tx: any AuditStore) async throws {
        try await tx.appendAuditEvents(changes.filter { !$0.isUnchanged }.map(draft), sealer: sealer)
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
