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

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what the database holds: rows and disk per table, and the bytes each row costs.",
        discussion: """
            idempotency_keys grows by one row per consume and is purged after the retention
            (serve --idempotency-retention-days, 1 by default): its size is the price of retries.
            """)

    @OptionGroup var databaseOptions: DatabaseOptions

    func run() async throws {
        let (sizes, outbox) = try await databaseOptions.withStore {
            (try await $0.tableSizes(), try await $0.outboxStats())
        }
        print("Database: \(databaseOptions.summary)")
        print(StatusReport.table(sizes))
        print(StatusReport.outbox(outbox, now: Date()))
    }
}

/// `tollgate status`'s table, as text.
enum StatusReport {
    static func table(_ sizes: [TableSize]) -> String {
        let header = ["table", "rows", "size", "per row"]
        let rows = sizes.map { size in
            [size.table, size.rows.formatted(), bytes(size.bytes), size.bytesPerRow.map { "\($0) B" } ?? "–"]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { cells in
            cells.enumerated().map { column, cell in
                column == 0
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `outbox: 3 waiting (email 2, webhook 1), oldest for 42 s; 1 failed for good`.
    static func outbox(_ stats: OutboxStats, now: Date) -> String {
        let kinds = stats.pending.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let age = Int(now.timeIntervalSince(stats.oldestPendingAt ?? now))
        let waiting =
            stats.pendingTotal == 0
            ? "nothing waiting" : "\(stats.pendingTotal) waiting (\(kinds)), oldest for \(age) s"
        return "outbox: \(waiting); \(stats.failed) failed for good"
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}
