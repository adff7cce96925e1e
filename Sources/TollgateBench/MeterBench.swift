import Foundation
import Logging
import SQLKit
import TollgateCore
import TollgateMeter
import TollgateSQL
import TollgateStorage

/// The meter through its public API against the same consumes done as one conditional SQL
/// UPDATE each (autocommit, durable), on one database, for several key counts and callers.
struct MeterBench {
    static let catalogYAML = """
        product: bench
        name: Bench
        defaultPlan: metered
        features:
          calls: { type: metered, name: Calls, unit: call }
        plans:
          - id: metered
            name: Metered
            order: 0
            features:
              calls: { limit: 1000000000000, period: monthly }
        """
    static let limit: Int64 = 1_000_000_000_000

    struct Row: Sendable {
        let keys: Int
        let tasks: Int
        let meter: Measurement
        let baseline: Measurement
        /// Consumes per call: 1 for `consume`, more for `consume(batch:)`.
        var batch: Int = 1
    }

    /// Consumes per call of the batch figures.
    static let batchSize = 1000

    let store: SQLStore
    let label: String
    let logger: Logger
    let prefix = "b" + UUID().uuidString.prefix(8).lowercased()

    /// Customers `<prefix>-0…` on the bench plan, and a counter row per key for the baseline.
    func prepare(keys: Int) async throws {
        let now = Millis.from(Date())
        for chunk in Array(0..<keys).chunks(of: 500) {
            try await store.provider.transaction { db in
                let customers = chunk.map { index -> SQLQueryString in
                    "(\(bind: "\(prefix)-\(index)"), \(bind: "metered"), \(bind: now), \(bind: now), \(bind: now))"
                }
                try await db.raw(
                    """
                    INSERT INTO customers (id, plan_id, billing_anchor_ms, created_at_ms, updated_at_ms)
                        VALUES \(customers.joined(separator: ", "))
                    """
                ).run()
                let counters = chunk.map { index -> SQLQueryString in
                    "(\(bind: "baseline:\(prefix)-\(index)"), 'calls', 0, NULL, 'lifetime', 0, \(bind: now))"
                }
                try await db.raw(
                    """
                    INSERT INTO usage_counters (subject, feature, period_start_ms, period_end_ms, period, used,
                        updated_at_ms)
                    VALUES \(counters.joined(separator: ", "))
                    """
                ).run()
            }
        }
    }

    /// `held` idempotency records laid down first (a day of retention on a server that has run
    /// for a while), spread over the bench's customers: the measured consumes insert theirs
    /// among them, where a fresh database would take them at the end of a small tree.
    func run(keyCounts: [Int], taskCounts: [Int], batchTaskCounts: [Int], duration: Duration, held: Int = 0)
        async throws -> [Row]
    {
        let catalog = try CatalogLoader.load(yaml: Self.catalogYAML)
        let maxKeys = keyCounts.max() ?? 1
        try await prepare(keys: maxKeys)
        try await hold(records: held, keys: maxKeys)
        let ids = (0..<maxKeys).map { "\(prefix)-\($0)" }
        let clock = SystemClock()
        let committer = GroupCommitter(store: store, clock: clock, logger: logger)
        let service = Meter(
            customers: CustomerDirectory(catalog: catalog, store: store, clock: clock, logger: logger), store: store,
            committer: committer, clock: clock)
        let running = Task { try await committer.run() }
        defer { running.cancel() }
        // Warm up: every customer and counter in memory, as on a server that has been running.
        try await inParallel(workers: 8, count: maxKeys) { index in
            _ = try await service.consume(
                customerId: ids[index], featureId: "calls", amount: 1, idempotencyKey: "\(prefix)-warm-\(index)")
        }
        var rows: [Row] = []
        for keys in keyCounts {
            for tasks in taskCounts {
                let tag = "\(prefix)-\(keys)-\(tasks)"
                let written = bytesWrittenSoFar()
                var meter = try await measureLoop(tasks: tasks, duration: duration) { task, iteration in
                    let index = (iteration &* tasks &+ task) % keys
                    _ = try await service.consume(
                        customerId: ids[index], featureId: "calls", amount: 1,
                        idempotencyKey: "\(tag)-\(task)-\(iteration)")
                }
                meter.bytesWritten = bytesWrittenSoFar() - written
                let provider = store.provider
                let baseline = try await measureLoop(tasks: tasks, duration: duration) { task, iteration in
                    let subject = "baseline:" + ids[(iteration &* tasks &+ task) % keys]
                    try await provider.transaction { db in try await Self.incrementBaseline(subject, on: db) }
                }
                logger.info(
                    """
                    \(label): \(keys) keys, \(tasks) tasks: meter \(Int(meter.perSecond))/s, SQL \
                    \(Int(baseline.perSecond))/s
                    """
                )
                rows.append(Row(keys: keys, tasks: tasks, meter: meter, baseline: baseline))
            }
            for tasks in batchTaskCounts {
                rows.append(
                    try await measureBatches(service: service, ids: ids, keys: keys, tasks: tasks, duration: duration))
            }
        }
        // A PostgreSQL database is the user's: what was held for the figures goes after them.
        if held > 0 { try await Self.forgetHeld(store: store, prefix: prefix) }
        return rows
    }

    /// Writes `count` idempotency records under the customers' scopes, in key order (quick to lay
    /// down; the tree they make is what later inserts pay for).
    func hold(records count: Int, keys: Int) async throws {
        let now = Millis.from(Date())
        let kind = store.provider.kind
        for start in stride(from: 0, to: count, by: 200_000) {
            let end = min(count, start + 200_000)
            try await store.provider.transaction { db in
                switch kind {
                case .sqlite:
                    try await db.raw(
                        """
                        WITH RECURSIVE n(i) AS (
                            SELECT \(bind: start) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < \(bind: end))
                        INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, response, created_at_ms)
                        SELECT 'consume:' || \(bind: prefix) || '-' || (i % \(bind: keys)), printf('held-%012d', i),
                            'held', '{}', \(bind: now)
                        FROM n
                        """
                    ).run()
                case .postgres:
                    try await db.raw(
                        """
                        INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, response, created_at_ms)
                        SELECT 'consume:' || \(bind: prefix) || '-' || (i % \(bind: keys)),
                            'held-' || lpad(i::text, 12, '0'), 'held', '{}', \(bind: now)
                        FROM generate_series(\(bind: start), \(bind: end - 1)) AS i
                        """
                    ).run()
                }
            }
        }
    }

    static func forgetHeld(store: SQLStore, prefix: String) async throws {
        try await store.provider.transaction { db in
            try await db.raw(
                """
                DELETE FROM idempotency_keys
                WHERE scope LIKE \(bind: "consume:\(prefix)-%") AND idempotency_key LIKE 'held-%'
                """
            ).run()
        }
    }

    /// The baseline's consume: one conditional SQL UPDATE of the subject's counter.
    private static func incrementBaseline(_ subject: String, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            UPDATE usage_counters SET used = used + 1
            WHERE subject = \(bind: subject) AND feature = 'calls' AND period_start_ms = 0
                AND used + 1 <= \(bind: limit)
            """
        ).run()
    }

    /// `consume(batch:)` with `batchSize` consumes per call, against the same consumes as
    /// conditional SQL UPDATEs in one transaction per batch. Operations count consumes.
    private func measureBatches(service: Meter, ids: [String], keys: Int, tasks: Int, duration: Duration)
        async throws -> Row
    {
        let size = Self.batchSize
        let tag = "\(prefix)-batch-\(keys)-\(tasks)"
        let written = bytesWrittenSoFar()
        var meter = try await measureLoop(tasks: tasks, duration: duration) { task, iteration in
            let first = (iteration &* tasks &+ task) &* size
            let requests = (0..<size).map { offset in
                ConsumeRequest(
                    customerId: ids[(first &+ offset) % keys], featureId: "calls", amount: 1,
                    idempotencyKey: "\(tag)-\(task)-\(iteration)-\(offset)")
            }
            for answer in await service.consume(batch: requests) { _ = try answer.get() }
        }
        meter.bytesWritten = bytesWrittenSoFar() - written
        let provider = store.provider
        var baseline = try await measureLoop(tasks: tasks, duration: duration) { task, iteration in
            let first = (iteration &* tasks &+ task) &* size
            try await provider.transaction { db in
                for offset in 0..<size {
                    try await Self.incrementBaseline("baseline:" + ids[(first &+ offset) % keys], on: db)
                }
            }
        }
        meter.operations *= size
        baseline.operations *= size
        logger.info(
            """
            \(label): \(keys) keys, \(tasks) tasks, batches of \(size): meter \(Int(meter.perSecond))/s, SQL \
            \(Int(baseline.perSecond))/s
            """
        )
        return Row(keys: keys, tasks: tasks, meter: meter, baseline: baseline, batch: size)
    }
}

/// Runs `body` for 0..<count on `workers` concurrent tasks.
func inParallel(workers: Int, count: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<workers {
            group.addTask {
                for index in stride(from: worker, to: count, by: workers) { try await body(index) }
            }
        }
        try await group.waitForAll()
    }
}
