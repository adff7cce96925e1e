import SQLKit
import TollgateSQL
import TollgateStorage

extension SQLStore {
    /// Tables left out of the scan, with the reason: the audit trail is a chain of HMACs that
    /// proves nothing was rewritten, so it is kept whole and leaves by retention.
    public static let tablesKeptWhole: Set<String> = ["audit_events", "audit_head"]

    /// The tables (and columns) where `text` appears in a text column, every table of the schema
    /// but `tablesKeptWhole`: what an erasure must leave empty.
    public func tablesHolding(_ text: String) async throws -> [String] {
        try await provider.read { db in
            let columns: [(table: String, column: String)]
            switch provider.kind {
            case .sqlite:
                var found: [(String, String)] = []
                let tables = try await db.raw(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                ).all().map { try $0.decode(column: "name", as: String.self) }
                for table in tables {
                    for row in try await db.raw("SELECT name, type FROM pragma_table_info(\(bind: table))").all() {
                        let type = try row.decode(column: "type", as: String.self).uppercased()
                        if type.contains("TEXT") || type.contains("CHAR") || type.isEmpty {
                            found.append((table, try row.decode(column: "name", as: String.self)))
                        }
                    }
                }
                columns = found
            case .postgres:
                columns = try await db.raw(
                    """
                    SELECT table_name, column_name FROM information_schema.columns
                    WHERE table_schema = current_schema()
                        AND data_type IN ('text', 'character varying', 'jsonb', 'json')
                    """
                ).all().map {
                    (
                        try $0.decode(column: "table_name", as: String.self),
                        try $0.decode(column: "column_name", as: String.self)
                    )
                }
            }
            var holding: [String] = []
            for (table, column) in columns where !Self.tablesKeptWhole.contains(table) {
                let count =
                    try await db.raw(
                        """
                        SELECT COUNT(*) AS n FROM \(ident: table)
                        WHERE CAST(\(ident: column) AS TEXT) LIKE \(bind: "%" + text + "%")
                        """
                    ).first()?.decode(column: "n", as: Int.self) ?? 0
                if count > 0 { holding.append("\(table).\(column)") }
            }
            return holding
        }
    }
}
