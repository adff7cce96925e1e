import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    static let auditColumns = """
        seq, id, at_ms, actor_kind, actor_id, action, target, workspace_id, ip, user_agent, before_json, after_json,
        prev_hash, hash
        """

    public func appendAuditEvents(_ drafts: [AuditDraft], sealer: any AuditSealer) async throws {
        guard !drafts.isEmpty else { return }
        let lock = provider.kind == .postgres ? " FOR UPDATE" : ""
        try await provider.transaction { db in
            var head = try await Self.readAuditHead(db, lock: lock)
            for chunk in drafts.chunks(of: 200) {
                let rows = chunk.map { Self.auditRow(Self.chain($0, onto: &head, sealer: sealer)) }
                try await db.raw(
                    "INSERT INTO audit_events (\(unsafeRaw: Self.auditColumns)) VALUES " + rows.joined(separator: ", ")
                ).run()
            }
            head.code = sealer.headCode(head)
            try await Self.writeAuditHead(db, head)
        }
    }

    public func appendAuditEvent(_ draft: AuditDraft, sealer: any AuditSealer) async throws -> AuditEvent {
        // The head's row lock orders appends across nodes; SQLite's writer lock does the same.
        let lock = provider.kind == .postgres ? " FOR UPDATE" : ""
        return try await provider.transaction { db in
            var head = try await Self.readAuditHead(db, lock: lock)
            // An entry made once (a form sent twice) is kept as first written.
            if let existing = try await db.raw(
                "SELECT \(unsafeRaw: Self.auditColumns) FROM audit_events WHERE id = \(bind: draft.id)"
            ).first() {
                return try Self.decodeAuditEvent(existing)
            }
            let event = Self.chain(draft, onto: &head, sealer: sealer)
            try await db.raw(
                "INSERT INTO audit_events (\(unsafeRaw: Self.auditColumns)) VALUES " + Self.auditRow(event)
            ).run()
            head.code = sealer.headCode(head)
            try await Self.writeAuditHead(db, head)
            return event
        }
    }

    /// The entry `draft` makes at the end of the chain, which it becomes.
    static func chain(_ draft: AuditDraft, onto head: inout AuditHead, sealer: any AuditSealer) -> AuditEvent {
        let sequence = head.lastSequence + 1
        let event = AuditEvent(
            sequence: sequence, draft: draft, previousHash: head.lastHash,
            hash: sealer.hash(previous: head.lastHash, sequence: sequence, draft: draft))
        head.lastSequence = sequence
        head.lastHash = event.hash
        return event
    }

    /// An entry's values, in the order of `auditColumns`.
    static func auditRow(_ event: AuditEvent) -> SQLQueryString {
        let d = event.draft
        return """
            (\(bind: event.sequence), \(bind: d.id), \(bind: Millis.from(d.at)), \(bind: d.actor.kind.rawValue),
                \(bind: d.actor.id), \(bind: d.action), \(bind: d.target), \(bind: d.workspaceId), \(bind: d.ip),
                \(bind: d.userAgent), \(bind: d.before), \(bind: d.after), \(bind: event.previousHash),
                \(bind: event.hash))
            """
    }

    public func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent] {
        var conditions: [SQLQueryString] = []
        if let kind = query.actorKind { conditions.append("actor_kind = \(bind: kind.rawValue)") }
        if let id = query.actorId { conditions.append("actor_id = \(bind: id)") }
        if let target = query.target { conditions.append("target = \(bind: target)") }
        if let action = query.action { conditions.append("action = \(bind: action)") }
        if let workspace = query.workspaceId { conditions.append("workspace_id = \(bind: workspace)") }
        if let account = query.concerning {
            conditions.append(
                """
                (actor_id = \(bind: account) OR target = \(bind: "account:" + account)
                    OR target = \(bind: "customer:" + account))
                """)
        }
        if let from = query.from { conditions.append("at_ms >= \(bind: Millis.from(from))") }
        if let to = query.to { conditions.append("at_ms < \(bind: Millis.from(to))") }
        if let before = query.before { conditions.append("seq < \(bind: before)") }
        let filter: SQLQueryString = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql: SQLQueryString = """
            SELECT \(unsafeRaw: Self.auditColumns) FROM audit_events \(filter) ORDER BY seq DESC
            LIMIT \(bind: query.limit)
            """
        return try await provider.read { db in try await db.raw(sql).all().map(Self.decodeAuditEvent) }
    }

    public func auditChain(after sequence: Int64, limit: Int) async throws -> [AuditEvent] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.auditColumns) FROM audit_events WHERE seq > \(bind: sequence)
                ORDER BY seq LIMIT \(bind: limit)
                """
            ).all().map(Self.decodeAuditEvent)
        }
    }

    public func auditHead() async throws -> AuditHead {
        try await provider.read { db in try await Self.readAuditHead(db, lock: "") }
    }

    public func pruneAuditEvents(before cutoff: Date, sealer: any AuditSealer) async throws -> Int {
        let lock = provider.kind == .postgres ? " FOR UPDATE" : ""
        return try await provider.transaction { db in
            var head = try await Self.readAuditHead(db, lock: lock)
            // The newest entry stays, so the chain always ends on a stored entry.
            guard
                let last = try await db.raw(
                    """
                    SELECT seq, hash FROM audit_events WHERE at_ms < \(bind: Millis.from(cutoff))
                        AND seq < \(bind: head.lastSequence)
                    ORDER BY seq DESC LIMIT 1
                    """
                ).first()
            else { return 0 }
            let sequence = try last.decode(column: "seq", as: Int64.self)
            let removed = try await db.raw(
                "DELETE FROM audit_events WHERE seq <= \(bind: sequence) RETURNING seq"
            ).all().count
            head.prunedSequence = sequence
            head.prunedHash = try last.decode(column: "hash", as: String.self)
            head.code = sealer.headCode(head)
            try await Self.writeAuditHead(db, head)
            return removed
        }
    }

    static func readAuditHead(_ db: any SQLDatabase, lock: String) async throws -> AuditHead {
        guard
            let row = try await db.raw(
                """
                SELECT last_seq, last_hash, pruned_seq, pruned_hash, code FROM audit_head
                WHERE id = 1\(unsafeRaw: lock)
                """
            ).first()
        else { throw StoreError.invalidConfiguration("the audit trail's head row is missing") }
        return AuditHead(
            lastSequence: try row.decode(column: "last_seq", as: Int64.self),
            lastHash: try row.decode(column: "last_hash", as: String.self),
            prunedSequence: try row.decode(column: "pruned_seq", as: Int64.self),
            prunedHash: try row.decode(column: "pruned_hash", as: String.self),
            code: try row.decode(column: "code", as: String.self))
    }

    static func writeAuditHead(_ db: any SQLDatabase, _ head: AuditHead) async throws {
        try await db.raw(
            """
            UPDATE audit_head SET last_seq = \(bind: head.lastSequence), last_hash = \(bind: head.lastHash),
                pruned_seq = \(bind: head.prunedSequence), pruned_hash = \(bind: head.prunedHash),
                code = \(bind: head.code)
            WHERE id = 1
            """
        ).run()
    }

    static func decodeAuditEvent(_ row: any SQLRow) throws -> AuditEvent {
        let kind = try row.decode(column: "actor_kind", as: String.self)
        return AuditEvent(
            sequence: try row.decode(column: "seq", as: Int64.self),
            draft: AuditDraft(
                id: try row.decode(column: "id", as: String.self),
                at: Millis.date(try row.decode(column: "at_ms", as: Int64.self)),
                // An unknown kind is kept readable; verification then reports the entry as edited.
                actor: AuditActor(
                    kind: AuditActor.Kind(rawValue: kind) ?? .anonymous,
                    id: try row.decode(column: "actor_id", as: String?.self)),
                action: try row.decode(column: "action", as: String.self),
                target: try row.decode(column: "target", as: String?.self),
                workspaceId: try row.decode(column: "workspace_id", as: String?.self),
                ip: try row.decode(column: "ip", as: String?.self),
                userAgent: try row.decode(column: "user_agent", as: String?.self),
                before: try row.decode(column: "before_json", as: String?.self),
                after: try row.decode(column: "after_json", as: String?.self)),
            previousHash: try row.decode(column: "prev_hash", as: String.self),
            hash: try row.decode(column: "hash", as: String.self))
    }

    public func sealedKey(name: String, creating record: SealedKeyRecord) async throws -> SealedKeyRecord {
        try await insertSealedKey(record, ifAbsent: true)
        guard let stored = try await sealedKeys(where: "name = \(bind: name)").first else {
            throw StoreError.invalidConfiguration("the sealed key \(name) vanished as it was stored")
        }
        return stored
    }

    public func sealedKeys(prefix: String) async throws -> [SealedKeyRecord] {
        try await sealedKeys(where: "name LIKE \(bind: Self.likeEscaped(prefix) + "%") ESCAPE '!'")
    }

    public func insertSealedKey(_ record: SealedKeyRecord) async throws {
        try await insertSealedKey(record, ifAbsent: false)
    }

    public func deleteSealedKey(name: String) async throws {
        try await provider.transaction { db in
            try await db.raw("DELETE FROM sealed_keys WHERE name = \(bind: name)").run()
        }
    }

    func insertSealedKey(_ record: SealedKeyRecord, ifAbsent: Bool) async throws {
        let conflict: SQLQueryString = ifAbsent ? "ON CONFLICT (name) DO NOTHING" : ""
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO sealed_keys (name, sealed, created_at_ms)
                VALUES (\(bind: record.name), \(bind: record.sealed), \(bind: Millis.from(record.createdAt)))
                \(conflict)
                """
            ).run()
        }
    }

    func sealedKeys(where condition: SQLQueryString) async throws -> [SealedKeyRecord] {
        let sql: SQLQueryString =
            "SELECT name, sealed, created_at_ms FROM sealed_keys WHERE " + condition
            + " ORDER BY created_at_ms, name"
        return try await provider.read { db in
            try await db.raw(sql).all().map { row in
                SealedKeyRecord(
                    name: try row.decode(column: "name", as: String.self),
                    sealed: try row.decode(column: "sealed", as: String.self),
                    createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)))
            }
        }
    }
}

extension SQLStore {
    /// Every column that holds a value sealed under the master key: table, key column, column.
    static let sealedColumns: [(table: String, key: String, column: String)] = [
        ("sealed_keys", "name", "sealed"),
        ("users", "id", "totp_secret"),
        ("operators", "id", "sealed_totp_secret"),
        ("webhook_endpoints", "id", "sealed_secret"),
        ("webhook_endpoints", "id", "sealed_previous_secret"),
    ]

    public func resealSecrets(_ reseal: @escaping @Sendable (String) throws -> String) async throws -> Int {
        let lock = provider.kind == .postgres ? " FOR UPDATE" : ""
        return try await provider.transaction { db in
            var count = 0
            for (table, key, column) in Self.sealedColumns {
                let rows = try await db.raw(
                    """
                    SELECT \(ident: key) AS k, \(ident: column) AS v FROM \(ident: table)
                    WHERE \(ident: column) IS NOT NULL\(unsafeRaw: lock)
                    """
                ).all()
                for row in rows {
                    let id = try row.decode(column: "k", as: String.self)
                    let sealed = try reseal(try row.decode(column: "v", as: String.self))
                    try await db.raw(
                        """
                        UPDATE \(ident: table) SET \(ident: column) = \(bind: sealed)
                        WHERE \(ident: key) = \(bind: id)
                        """
                    ).run()
                    count += 1
                }
            }
            // Mail not sent yet carries its link's token sealed in the payload.
            let waiting = try await db.raw(
                """
                SELECT id, payload FROM outbox
                WHERE delivered_at_ms IS NULL AND payload LIKE '%sealedToken%'\(unsafeRaw: lock)
                """
            ).all()
            for row in waiting {
                let id = try row.decode(column: "id", as: String.self)
                let payload = try row.decode(column: "payload", as: String.self)
                guard var object = try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any],
                    let token = object["sealedToken"] as? String
                else { continue }
                object["sealedToken"] = try reseal(token)
                let rewritten = String(
                    decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
                try await db.raw("UPDATE outbox SET payload = \(bind: rewritten) WHERE id = \(bind: id)").run()
                count += 1
            }
            return count
        }
    }
}
