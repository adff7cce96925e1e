import SQLKit
import TollgateStorage

/// What one table holds: rows and bytes on disk (its indexes included).
public struct TableSize: Sendable, Equatable {
    public let table: String
    public let rows: Int64
    public let bytes: Int64

    /// Bytes per row, indexes included: what each new row costs the disk.
    public var bytesPerRow: Int64? { rows > 0 ? bytes / rows : nil }
}

extension SQLStore {
    /// Every table's rows and size, largest first. SQLite measures pages with `dbstat`;
    /// PostgreSQL answers from its catalog (row counts are `reltuples`, the planner's estimate
    /// as of the last ANALYZE or autovacuum).
    public func tableSizes() async throws -> [TableSize] {
        let kind = provider.kind
        return try await provider.read { db in
            var sizes: [TableSize] = []
            switch kind {
            case .sqlite:
                let pages = try await db.raw(
                    """
                    SELECT m.tbl_name AS name, SUM(d.pgsize) AS bytes FROM dbstat d
                    JOIN sqlite_master m ON m.name = d.name
                    WHERE m.tbl_name NOT LIKE 'sqlite_%' GROUP BY m.tbl_name
                    """
                ).all()
                for row in pages {
                    let name = try row.decode(column: "name", as: String.self)
                    let rows =
                        try await db.raw("SELECT COUNT(*) AS n FROM \(ident: name)").first()?
                        .decode(column: "n", as: Int64.self) ?? 0
                    sizes.append(
                        TableSize(table: name, rows: rows, bytes: try row.decode(column: "bytes", as: Int64.self)))
                }
            case .postgres:
                for row in try await db.raw(
                    """
                    SELECT c.relname AS name, GREATEST(c.reltuples, 0)::BIGINT AS rows,
                        pg_total_relation_size(c.oid)::BIGINT AS bytes
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind = 'r' AND n.nspname = current_schema()
                    """
                ).all() {
                    sizes.append(
                        TableSize(
                            table: try row.decode(column: "name", as: String.self),
                            rows: try row.decode(column: "rows", as: Int64.self),
                            bytes: try row.decode(column: "bytes", as: Int64.self)))
                }
            }
            return sizes.sorted { ($0.bytes, $1.table) > ($1.bytes, $0.table) }
        }
    }
}
