import Dispatch
import Foundation
import TollgateCore
import TollgateStorage
import VaporCSQLite

/// Applies the meter's group commits to SQLite through its C API: a connection of its own with
/// prepared statements kept for its lifetime, driven by one serial queue. The SQLKit path costs
/// a thread hand-off and a statement compile per statement; here a whole batch (its idempotency
/// rows, counter upserts and lease updates, and the durable COMMIT) is one hand-off and only
/// binds and steps. The caller serializes it with the provider's other writes.
final class SQLiteUsageWriter: @unchecked Sendable {
    // @unchecked: `handle` and `statements` are touched only on `queue` (and in deinit).
    private let queue = DispatchQueue(label: "tollgate.sqlite.usage-writer", qos: .userInitiated)
    private var handle: OpaquePointer?
    private var statements: [Statement: OpaquePointer] = [:]
    /// Kept alive as long as the connection whose WAL hook points at it.
    private let checkpointer: SQLiteCheckpointer
    private let faults: UsageWriteFaults?

    private enum Statement: String {
        case begin = "BEGIN IMMEDIATE"
        case commit = "COMMIT"
        case rollback = "ROLLBACK"
        case insertRecord = """
            INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, response, created_at_ms)
            VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (scope, idempotency_key) DO UPDATE SET fingerprint = excluded.fingerprint,
                response = excluded.response, created_at_ms = excluded.created_at_ms, expires_at_ms = NULL
            WHERE idempotency_keys.expires_at_ms IS NOT NULL
                AND idempotency_keys.expires_at_ms <= excluded.created_at_ms
            """
        case addToCounter = """
            INSERT INTO usage_counters (subject, feature, period_start_ms, period_end_ms, period, used, updated_at_ms)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (subject, feature, period_start_ms)
            DO UPDATE SET used = usage_counters.used + excluded.used, updated_at_ms = excluded.updated_at_ms
            """
        case addToCounterReturning = """
            INSERT INTO usage_counters (subject, feature, period_start_ms, period_end_ms, period, used, updated_at_ms)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (subject, feature, period_start_ms)
            DO UPDATE SET used = usage_counters.used + excluded.used, updated_at_ms = excluded.updated_at_ms
            RETURNING used
            """
        case insertEvent = """
            INSERT INTO outbox (id, kind, recipient, payload, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (id) DO NOTHING
            """
        case appendFact = "append to the usage fact log"
        case shrinkLease = """
            UPDATE counter_leases SET outstanding = CASE WHEN outstanding > ?1 THEN outstanding - ?1 ELSE 0 END
            WHERE subject = ?2 AND feature = ?3 AND period_start_ms = ?4 AND node = ?5
            """
    }

    typealias Failure = SQLiteHandle.Failure

    private static func sql(_ which: Statement) -> String {
        switch which {
        case .appendFact: UsageRollupRow.append + " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        default: which.rawValue
        }
    }

    /// Opens its connection with the same durability settings as the provider's; after each
    /// commit, `checkpointer` hears how large the WAL has grown.
    init(path: String, pragmas: [String], checkpointer: SQLiteCheckpointer, faults: UsageWriteFaults? = nil) throws {
        let handle = try SQLiteHandle.open(path: path, pragmas: pragmas)
        checkpointer.watch(handle)
        self.handle = handle
        self.checkpointer = checkpointer
        self.faults = faults
    }

    deinit {
        for statement in statements.values { sqlite_nio_sqlite3_finalize(statement) }
        sqlite_nio_sqlite3_close(handle)
    }

    /// Applies `batch` in one durable transaction; per entry, whether it was applied (false: its
    /// idempotency key was stored already, or repeated earlier in the batch).
    func commit(_ batch: UsageBatch) async throws -> [Bool] {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.apply(batch) })
            }
        }
    }

    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                for statement in self.statements.values { sqlite_nio_sqlite3_finalize(statement) }
                self.statements = [:]
                sqlite_nio_sqlite3_close(self.handle)
                self.handle = nil
                continuation.resume()
            }
        }
    }

    private func apply(_ batch: UsageBatch) throws -> [Bool] {
        guard let handle else { throw Failure(description: "the usage writer is closed") }
        checkpointer.restartIfRequested(on: handle)
        try run(.begin)
        do {
            var plan = UsageBatchPlan(batch)
            for (index, record) in plan.records {
                try run(
                    .insertRecord,
                    binding: [
                        .text(record.scope), .text(record.key), .text(record.fingerprint), .text(record.response),
                        .integer(Millis.from(record.createdAt)),
                    ])
                if sqlite_nio_sqlite3_changes(handle) == 0 { plan.applied[index] = false }
            }
            try faults?.check(.afterRecords)
            let now = Millis.from(batch.at)
            for delta in plan.mergedDeltas(of: batch) {
                let watched = delta.watchesThresholds
                let usedAfter = try run(
                    watched ? .addToCounterReturning : .addToCounter,
                    binding: [
                        .text(delta.key.subject), .text(delta.key.feature), .integer(delta.key.periodStartMillis),
                        delta.periodEndMillis.map(Value.integer) ?? .null, .text(delta.period), .integer(delta.delta),
                        .integer(now),
                    ])
                guard watched, let usedAfter else { continue }
                for event in try UsageAlertEvents.messages(for: delta, usedAfter: usedAfter, at: batch.at) {
                    try run(
                        .insertEvent,
                        binding: [
                            .text(event.id), .text(event.kind), .text(event.recipient), .text(event.payload),
                            .integer(Millis.from(event.createdAt)),
                        ])
                }
            }
            for row in plan.rollup(of: batch) {
                try run(
                    .appendFact,
                    binding: [
                        .integer(row.key.day), .text(row.key.feature), .text(row.key.planId), .text(row.key.customerId),
                        .text(row.key.outcome), .integer(row.units), .integer(row.events),
                        row.upgradeTier.map(Value.text) ?? .null, row.promptAt.map(Value.integer) ?? .null,
                    ])
            }
            try faults?.check(.afterCounters)
            for (key, node, units) in plan.leaseShrinks(of: batch) {
                try run(
                    .shrinkLease,
                    binding: [
                        .integer(units), .text(key.subject), .text(key.feature), .integer(key.periodStartMillis),
                        .text(node),
                    ])
            }
            try faults?.check(.beforeCommit)
            try run(.commit)
            return plan.applied
        } catch {
            _ = try? run(.rollback)
            throw error
        }
    }

    private enum Value {
        case text(String)
        case integer(Int64)
        case null
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Binds, steps and resets one kept statement; the first column of the row it returned, if any
    /// (a write's changes happen at the first step, RETURNING or not).
    @discardableResult
    private func run(_ which: Statement, binding values: [Value] = []) throws -> Int64? {
        let statement = try prepared(which)
        defer {
            sqlite_nio_sqlite3_reset(statement)
            sqlite_nio_sqlite3_clear_bindings(statement)
        }
        for (offset, value) in values.enumerated() {
            let position = Int32(offset + 1)
            let status: Int32
            switch value {
            case .text(let text):
                var text = text
                status = text.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) {
                        sqlite_nio_sqlite3_bind_text(
                            statement, position, $0.baseAddress, Int32($0.count), Self.transient)
                    }
                }
            case .integer(let integer):
                status = sqlite_nio_sqlite3_bind_int64(statement, position, integer)
            case .null:
                status = sqlite_nio_sqlite3_bind_null(statement, position)
            }
            guard status == SQLITE_OK else { throw failure(which) }
        }
        let stepped = sqlite_nio_sqlite3_step(statement)
        guard stepped == SQLITE_DONE || stepped == SQLITE_ROW else { throw failure(which) }
        return stepped == SQLITE_ROW ? sqlite_nio_sqlite3_column_int64(statement, 0) : nil
    }

    private func prepared(_ which: Statement) throws -> OpaquePointer {
        if let statement = statements[which] { return statement }
        var statement: OpaquePointer?
        guard
            sqlite_nio_sqlite3_prepare_v3(
                handle, Self.sql(which), -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
            let statement
        else { throw failure(which) }
        statements[which] = statement
        return statement
    }

    private func failure(_ which: Statement) -> Failure {
        let message = handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "closed"
        return Failure(description: "SQLite \(which): \(message)")
    }
}
