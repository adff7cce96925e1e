import Foundation
import SQLKit
import Synchronization
import TollgateCore
import TollgateStorage

/// Applies the meter's group commits (see `UsageStore.commit`). Each provider supplies its own:
/// SQLite's writes through SQLite's C API (`SQLiteUsageWriter`), PostgreSQL's through SQLKit
/// (`SQLKitUsageWriter`). One contract suite runs against every writer, with failures injected
/// inside their transactions, so they apply, refuse and roll back alike.
public protocol UsageWriter: Sendable {
    func commit(_ batch: UsageBatch) async throws -> [Bool]
}

/// Where a writer can be made to fail inside its transaction, for the tests that check that a
/// failed commit counts nothing and leaves the writer usable. Production passes none.
public final class UsageWriteFaults: Sendable {
    public enum Stage: Int, Sendable, CaseIterable {
        case afterRecords = 1
        case afterCounters
        case beforeCommit
    }

    public struct Injected: Error, Equatable {
        public let stage: Stage

        public init(stage: Stage) { self.stage = stage }
    }

    private let armed = Atomic<Int>(0)

    public init() {}

    /// The next commit fails at `stage` (nil: none does).
    public func arm(_ stage: Stage?) { armed.store(stage?.rawValue ?? 0, ordering: .relaxed) }

    func check(_ stage: Stage) throws {
        guard armed.load(ordering: .relaxed) == stage.rawValue else { return }
        armed.store(0, ordering: .relaxed)
        throw Injected(stage: stage)
    }
}

/// The group commit as SQLKit statements in one transaction: multi-row inserts and upserts.
public struct SQLKitUsageWriter: UsageWriter {
    let provider: any DatabaseProvider
    let faults: UsageWriteFaults?

    /// Rows per statement: up to 9 binds each stays far below both databases' parameter limits.
    static let rowsPerStatement = 500

    public func commit(_ batch: UsageBatch) async throws -> [Bool] {
        let now = Millis.from(batch.at)
        return try await provider.transaction { [faults] db in
            // Idempotency records first: a key already stored marks its entry as a duplicate,
            // whose deltas are then left out. No read before: the insert is the check.
            var plan = UsageBatchPlan(batch)
            var inserted = Set<String>()
            for chunk in plan.records.chunks(of: Self.rowsPerStatement) {
                inserted.formUnion(try await Self.insertRecords(chunk.map(\.record), on: db))
            }
            for (index, record) in plan.records where !inserted.contains(UsageBatchPlan.token(record.scope, record.key))
            { plan.applied[index] = false }
            try faults?.check(.afterRecords)
            let deltas = plan.mergedDeltas(of: batch)
            let watched = deltas.filter(\.watchesThresholds)
            for chunk in deltas.filter({ !$0.watchesThresholds }).chunks(of: Self.rowsPerStatement) {
                try await Self.addToCounters(chunk, updatedAt: now, on: db)
            }
            var alerts: [OutboxMessage] = []
            for chunk in watched.chunks(of: Self.rowsPerStatement) {
                let used = try await Self.addToCounters(chunk, updatedAt: now, returning: true, on: db)
                for delta in chunk {
                    guard let after = used[delta.key] else { continue }
                    alerts += try UsageAlertEvents.messages(for: delta, usedAfter: after, at: batch.at)
                }
            }
            try await SQLStore.enqueue(db, alerts, ignoringDuplicates: true)
            for chunk in plan.rollup(of: batch).chunks(of: Self.rowsPerStatement) {
                try await Self.appendFacts(chunk, on: db)
            }
            try faults?.check(.afterCounters)
            for (key, node, units) in plan.leaseShrinks(of: batch) {
                try await db.raw(
                    """
                    UPDATE counter_leases SET outstanding = CASE WHEN outstanding > \(bind: units)
                        THEN outstanding - \(bind: units) ELSE 0 END
                    WHERE subject = \(bind: key.subject) AND feature = \(bind: key.feature)
                        AND period_start_ms = \(bind: key.periodStartMillis) AND node = \(bind: node)
                    """
                ).run()
            }
            try faults?.check(.beforeCommit)
            return plan.applied
        }
    }

    /// Inserts the records whose keys are not stored yet, in one statement; the tokens
    /// (`UsageBatchPlan.token`) of those it inserted.
    static func insertRecords(_ records: [IdempotencyRecord], on db: any SQLDatabase) async throws -> Set<String> {
        let rows = records.map { r -> SQLQueryString in
            """
            (\(bind: r.scope), \(bind: r.key), \(bind: r.fingerprint), \(bind: r.response), \
            \(bind: Millis.from(r.createdAt)))
            """
        }
        let returned = try await db.raw(
            """
            INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, response, created_at_ms)
            VALUES \(rows.joined(separator: ", "))
            ON CONFLICT (scope, idempotency_key) DO UPDATE SET fingerprint = excluded.fingerprint,
                response = excluded.response, created_at_ms = excluded.created_at_ms, expires_at_ms = NULL
            WHERE idempotency_keys.expires_at_ms IS NOT NULL
                AND idempotency_keys.expires_at_ms <= excluded.created_at_ms
            RETURNING scope, idempotency_key
            """
        ).all()
        // Usually every key is new: then there is nothing to decode.
        if returned.count == records.count { return Set(records.map { UsageBatchPlan.token($0.scope, $0.key) }) }
        return Set(
            try returned.map {
                UsageBatchPlan.token(
                    try $0.decode(column: "scope", as: String.self),
                    try $0.decode(column: "idempotency_key", as: String.self))
            })
    }

    /// Adds the rows to the daily usage rollup, in one statement (one row per key).
    static func addToRollup(_ rows: some Collection<UsageRollupRow>, on db: any SQLDatabase) async throws {
        let insert: SQLQueryString = "\(unsafeRaw: UsageRollupRow.insert) VALUES \(values(rows)) "
        try await db.raw(insert + "\(unsafeRaw: UsageRollupRow.onConflict)").run()
    }

    /// Appends the rows to the usage fact log, in one statement: a commit writes its facts, the
    /// fold turns them into the rollups.
    static func appendFacts(_ rows: some Collection<UsageRollupRow>, on db: any SQLDatabase) async throws {
        try await db.raw("\(unsafeRaw: UsageRollupRow.append) VALUES \(values(rows))").run()
    }

    private static func values(_ rows: some Collection<UsageRollupRow>) -> SQLQueryString {
        rows.map { r -> SQLQueryString in
            """
            (\(bind: r.key.day), \(bind: r.key.feature), \(bind: r.key.planId), \(bind: r.key.customerId), \
            \(bind: r.key.outcome), \(bind: r.units), \(bind: r.events), \(bind: r.upgradeTier), \(bind: r.promptAt))
            """
        }.joined(separator: ", ")
    }

    /// Adds the rows to the monthly rollup, then moves their customers in the months'
    /// distributions — rows, then buckets, each in key order, so that concurrent commits lock
    /// them in one order.
    static func addToMonths(_ rows: [UsageMonthRow], on db: any SQLDatabase) async throws {
        var buckets: [UsageMonthRow.Bucket: Int64] = [:]
        for chunk in rows.chunks(of: rowsPerStatement) {
            let byKey = Dictionary(uniqueKeysWithValues: chunk.map { ($0.key, $0) })
            let values = chunk.map { r -> SQLQueryString in
                """
                (\(bind: r.key.month), \(bind: r.key.feature), \(bind: r.key.planId), \(bind: r.key.customerId), \
                \(bind: r.units), \(bind: r.events))
                """
            }
            let upsert: SQLQueryString = "\(unsafeRaw: UsageMonthRow.upsert) VALUES \(values.joined(separator: ", ")) "
            for after in try await db.raw(upsert + "\(unsafeRaw: UsageMonthRow.onConflict)").all() {
                let key = UsageMonthRow.Key(
                    month: try after.decode(column: "month_ms", as: Int64.self),
                    feature: try after.decode(column: "feature", as: String.self),
                    planId: try after.decode(column: "plan_id", as: String.self),
                    customerId: try after.decode(column: "customer_id", as: String.self))
                byKey[key]?.move(
                    unitsAfter: try after.decode(column: "units", as: Int64.self),
                    eventsAfter: try after.decode(column: "events", as: Int64.self), in: &buckets)
            }
        }
        let moves = buckets.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        for chunk in moves.chunks(of: rowsPerStatement) {
            let values = chunk.map { move -> SQLQueryString in
                let b = move.key
                return
                    "(\(bind: b.month), \(bind: b.feature), \(bind: b.planId), \(bind: b.total), \(bind: move.value))"
            }
            let insert: SQLQueryString =
                "\(unsafeRaw: UsageMonthRow.addToBucket) VALUES \(values.joined(separator: ", ")) "
            try await db.raw(insert + "\(unsafeRaw: UsageMonthRow.bucketConflict)").run()
        }
    }

    /// Adds each delta to its counter (one row per counter: PostgreSQL refuses an upsert that
    /// touches the same row twice), in one statement.
    /// With `returning`, the counters' values after the change, for the quota alerts.
    @discardableResult
    static func addToCounters(
        _ deltas: some Collection<CounterDelta>, updatedAt now: Int64, returning: Bool = false,
        on db: any SQLDatabase
    ) async throws -> [CounterKey: Int64] {
        let rows = deltas.map { d -> SQLQueryString in
            """
            (\(bind: d.key.subject), \(bind: d.key.feature), \(bind: d.key.periodStartMillis), \
            \(bind: d.periodEndMillis), \(bind: d.period), \(bind: d.delta), \(bind: now))
            """
        }
        let upsert: SQLQueryString = """
            INSERT INTO usage_counters (subject, feature, period_start_ms, period_end_ms, period, used, updated_at_ms)
            VALUES \(rows.joined(separator: ", "))
            ON CONFLICT (subject, feature, period_start_ms)
            DO UPDATE SET used = usage_counters.used + excluded.used, updated_at_ms = excluded.updated_at_ms
            """
        guard returning else {
            try await db.raw(upsert).run()
            return [:]
        }
        let rowsAfter = try await db.raw(upsert + " RETURNING subject, feature, period_start_ms, used").all()
        var used: [CounterKey: Int64] = [:]
        for row in rowsAfter {
            let key = CounterKey(
                subject: try row.decode(column: "subject", as: String.self),
                feature: try row.decode(column: "feature", as: String.self),
                periodStartMillis: try row.decode(column: "period_start_ms", as: Int64.self))
            used[key] = try row.decode(column: "used", as: Int64.self)
        }
        return used
    }
}
