import Foundation
import Logging
import SQLKit
import TollgateAnalytics
import TollgateCore
import TollgateSQL
import TollgateStorage

/// The analytics answers at size — two years of subscription history for
/// `customers` customers and `events` usage events — read from the rollups, beside the same answer
/// computed by a plain aggregation query over the raw rows, in the same run, with a check that
/// both answers are equal.
///
/// The data is made by SQL (a recursive counter), not through the meter: the rollups are filled
/// from the raw rows by the same grouping the fold of the usage facts applies (the contract tests
/// hold the commit and fold path to it). Tollgate keeps no raw usage history (its fact log is
/// emptied by each fold); `bench_usage_events` is the one a design without rollups would keep
/// (one row per consume, indexed by day).
struct AnalyticsBench {
    let store: SQLStore
    let customers: Int
    let events: Int
    let repetitions: Int
    let logger: Logger

    /// 2025-01-01, and two years of days from it.
    static let start = Date(timeIntervalSince1970: 1_735_689_600)
    static let days = 730

    struct Row: Sendable {
        let answer: String
        let rawRows: Int
        /// Milliseconds per answer, median and slowest.
        let rollup: (p50: Double, max: Double)
        let baseline: (p50: Double, max: Double)
        let same: Bool
    }

    /// Runs `body` on a store of its own: a fresh SQLite directory, or a scratch database on the
    /// PostgreSQL server, dropped afterwards (the bench's millions of rows never stay behind).
    static func withScratch<T>(_ location: DatabaseLocation, _ body: (SQLStore) async throws -> T) async throws -> T {
        let (scratch, drop) = try await scratchDatabase(location)
        let logger = Logger(label: "tollgate.bench.analytics")
        let store = try await SQLStore.open(scratch, logger: logger)
        do {
            let result = try await body(store)
            await store.shutdown()
            await drop?()
            return result
        } catch {
            await store.shutdown()
            await drop?()
            throw error
        }
    }

    /// A fresh database on the PostgreSQL server of `location` (SQLite: `location` itself), and
    /// how to drop it.
    static func scratchDatabase(_ location: DatabaseLocation) async throws
        -> (DatabaseLocation, (() async -> Void)?)
    {
        guard case .postgres(let url) = location else { return (location, nil) }
        let name = "tollgate_bench_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())"
        try await adminQuery(url, "CREATE DATABASE \(name)")
        var components = URLComponents(string: url)!
        components.path = "/\(name)"
        return (
            .postgres(url: components.string!),
            { try? await adminQuery(url, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        )
    }

    private static func adminQuery(_ url: String, _ sql: String) async throws {
        let provider = try PostgresProvider(url: url, maximumConnections: 1, logger: Logger(label: "tollgate.bench"))
        do {
            try await provider.read { db in try await db.raw(SQLQueryString(sql)).run() }
            await provider.shutdown()
        } catch {
            await provider.shutdown()
            throw error
        }
    }

    func run() async throws -> [Row] {
        logger.info("analytics: \(customers) customers, \(events) usage events")
        try await seed()
        let revenueTo = Self.start.addingTimeInterval(Double(Self.days) * 86_400)
        // October 2025: a calendar month, as the console asks for.
        let usageMonth = (Date(timeIntervalSince1970: 1_759_276_800), Date(timeIntervalSince1970: 1_761_955_200))
        let movements = try await count("revenue_movements")

        let revenue = try await time { try await revenueFromRollup(to: revenueTo) }
        let revenuePlain = try await time { try await revenueFromMovements(to: revenueTo) }
        let ladder = ["basic": 0, "pro": 1, "business": 2]
        let usage = try await time {
            try await AnalyticsReports(reads: store).usage(from: usageMonth.0, to: usageMonth.1, ladder: ladder)
        }
        let usagePlain = try await time {
            let (from, to) = usageMonth
            return UsageReport.rows(
                try await store.usageFigures(from: from, to: to, table: "bench_usage_events"),
                conversions: try await store.upgradeConversions(
                    from: from, to: to, ladder: ladder, table: "bench_usage_events"),
                ladder: ladder)
        }

        return [
            Row(
                answer: "GET /v1/analytics/revenue, 24 months (EUR)", rawRows: movements, rollup: revenue.timing,
                baseline: revenuePlain.timing, same: revenue.answer == revenuePlain.answer),
            Row(
                answer: "GET /v1/analytics/usage, one month", rawRows: events, rollup: usage.timing,
                baseline: usagePlain.timing, same: usage.answer == usagePlain.answer),
        ]
    }

    /// What the revenue route computes: the daily rollups, then the report.
    func revenueFromRollup(to: Date) async throws -> [RevenueSeries.Period] {
        try await AnalyticsReports(reads: store).revenue(
            currency: Currency("EUR")!, from: Self.start, to: to, interval: .month)
    }

    /// The same report from a plain aggregation of the raw movements and trials.
    func revenueFromMovements(to: Date) async throws -> [RevenueSeries.Period] {
        let end = Millis.from(to)
        let (days, trials) = try await store.provider.read { db in
            let days = try await db.raw(
                """
                SELECT at_ms - (at_ms % 86400000) AS day_ms, kind, CAST(SUM(amount_minor) AS BIGINT) AS amount,
                    COUNT(*) AS movements
                FROM revenue_movements WHERE currency = 'EUR' AND at_ms < \(bind: end)
                GROUP BY at_ms - (at_ms % 86400000), kind
                """
            ).all().map { row in
                RevenueSeries.DayTotal(
                    day: Millis.date(try row.decode(column: "day_ms", as: Int64.self)),
                    kind: MovementKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .new,
                    amount: try row.decode(column: "amount", as: Int64.self),
                    count: Int(try row.decode(column: "movements", as: Int64.self)))
            }
            let trials = try await db.raw(
                """
                SELECT started_at_ms, ended_at_ms, converted FROM trials
                WHERE currency = 'EUR' AND started_at_ms < \(bind: end)
                """
            ).all().map { row in
                RevenueSeries.Trial(
                    startedAt: Millis.date(try row.decode(column: "started_at_ms", as: Int64.self)),
                    endedAt: try row.decode(column: "ended_at_ms", as: Int64?.self).flatMap {
                        $0 < end ? Millis.date($0) : nil
                    },
                    converted: try row.decode(column: "converted", as: Int64?.self).map { $0 != 0 })
            }
            return (days, trials)
        }
        return RevenueSeries.compute(
            days: days, trials: RevenueSeries.trialDays(trials), from: Self.start, to: to, interval: .month)
    }

    private func time<T: Sendable>(_ body: () async throws -> T) async throws -> (
        answer: T, timing: (p50: Double, max: Double)
    ) {
        let clock = ContinuousClock()
        var answer: T?
        var durations: [Double] = []
        for _ in 0..<max(1, repetitions) {
            let start = clock.now
            answer = try await body()
            durations.append(start.duration(to: clock.now).inSeconds * 1000)
        }
        durations.sort()
        return (answer!, (durations[durations.count / 2], durations.last!))
    }

    private func count(_ table: String) async throws -> Int {
        try await store.provider.read { db in
            Int(
                try await db.raw("SELECT COUNT(*) AS n FROM \(ident: table)").first()?.decode(
                    column: "n", as: Int64.self) ?? 0)
        }
    }

    /// Customers `b0…`: half pay (new), a fifth of those expand, a seventh churn and half of those
    /// come back; a quarter trial (half of them convert); a tenth in USD. Usage events spread over
    /// the two years, four features, three plans; 1 in 23 refused at the limit naming Pro, 1 in 37
    /// refused as not in the plan; a sixth of the customers upgrade at some point.
    func seed() async throws {
        let (customers, events, start, day) = (customers, events, Millis.from(Self.start), Int64(86_400_000))
        let counter = { (n: Int) in
            "WITH RECURSIVE n(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < \(n - 1))"
        }
        let base = "CASE WHEN i % 3 = 0 THEN 2990 ELSE 990 END"
        let currency = "CASE WHEN i % 5 = 0 THEN 'USD' ELSE 'EUR' END"
        let at = { (offset: Int) in "\(start) + ((i % 700) + \(offset)) * \(day) + (i % 86400) * 1000" }
        let movement = { (prefix: String, kind: String, amount: String, offset: Int, filter: String) in
            """
            \(counter(customers))
            INSERT INTO revenue_movements (id, subject, currency, kind, amount_minor, mrr_before, mrr_after, plan_id,
                at_ms)
            SELECT '\(prefix)' || i, 'b' || i, \(currency), '\(kind)', \(amount), 0, 0, 'pro', \(at(offset))
            FROM n WHERE \(filter)
            """
        }
        let statements = [
            movement("bn", "new", base, 0, "i % 2 = 0"),
            movement("be", "expansion", "2000", 20, "i % 10 = 0"),
            movement("bc", "churn", "-(\(base) + CASE WHEN i % 10 = 0 THEN 2000 ELSE 0 END)", 25, "i % 14 = 0"),
            movement("br", "reactivation", base, 28, "i % 28 = 0"),
            """
            \(counter(customers))
            INSERT INTO trials (subscription_id, subject, plan_id, currency, started_at_ms, ended_at_ms, converted)
            SELECT 'bt' || i, 'b' || i, 'pro', \(currency), \(at(0)), \(at(14)), CASE WHEN i % 8 = 1 THEN 1 ELSE 0 END
            FROM n WHERE i % 4 = 1
            """,
            """
            \(counter(customers))
            INSERT INTO customer_states (customer_id, at_ms, plan_id, status)
            SELECT 'b' || i, \(start), CASE i % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'business' END, 'free'
            FROM n
            """,
            """
            \(counter(customers))
            INSERT INTO customer_states (customer_id, at_ms, plan_id, status)
            SELECT 'b' || i, \(start) + ((i * 13) % \(Self.days)) * \(day) + 1, 'pro', 'active' FROM n WHERE i % 6 = 0
            """,
            """
            CREATE TABLE bench_usage_events (
                at_ms BIGINT NOT NULL, day_ms BIGINT NOT NULL, feature TEXT NOT NULL, plan_id TEXT NOT NULL,
                customer_id TEXT NOT NULL, outcome TEXT NOT NULL, units BIGINT NOT NULL, events BIGINT NOT NULL,
                upgrade_tier TEXT, prompt_at_ms BIGINT)
            """,
            """
            \(counter(events))
            INSERT INTO bench_usage_events (at_ms, day_ms, feature, plan_id, customer_id, outcome, units, events,
                upgrade_tier, prompt_at_ms)
            SELECT at_ms, at_ms - (at_ms % \(day)), feature, plan_id, customer_id, outcome, units, 1,
                CASE WHEN outcome = 'USER_QUOTA_EXHAUSTED' THEN 'pro' END,
                CASE WHEN outcome = 'USER_QUOTA_EXHAUSTED' THEN at_ms END
            FROM (
                SELECT \(start) + ((i * 104729) % \(Self.days)) * \(day) + (i % \(day)) AS at_ms,
                    'f' || (i % 4) AS feature,
                    CASE ((i * 7919) % \(customers)) % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'business' END
                        AS plan_id,
                    'b' || ((i * 7919) % \(customers)) AS customer_id,
                    CASE WHEN i % 23 = 0 THEN 'USER_QUOTA_EXHAUSTED' WHEN i % 37 = 0 THEN 'TIER_LIMITED'
                        ELSE 'allowed' END AS outcome,
                    CASE WHEN i % 23 = 0 OR i % 37 = 0 THEN 0 ELSE 1 + i % 5 END AS units
                FROM n
            ) AS generated
            """,
            "CREATE INDEX bench_usage_events_by_day ON bench_usage_events (day_ms)",
            // The rollup, as the fold writes it: summed per day, feature, plan, customer and outcome.
            """
            INSERT INTO usage_daily (day_ms, feature, plan_id, customer_id, outcome, units, events, upgrade_tier,
                prompt_at_ms)
            SELECT day_ms, feature, plan_id, customer_id, outcome, SUM(units), SUM(events), MIN(upgrade_tier),
                MIN(prompt_at_ms)
            FROM bench_usage_events GROUP BY day_ms, feature, plan_id, customer_id, outcome
            """,
        ]
        let clock = ContinuousClock()
        let began = clock.now
        try await store.provider.transaction { db in
            for statement in statements { try await db.raw(SQLQueryString(statement)).run() }
        }
        try await store.rebuildRevenueRollups()
        try await store.rebuildUsageMonthly()
        // Fresh statistics (and on PostgreSQL the visibility map its index-only scans need), as a
        // database that has lived with this data would have from its autovacuum.
        if store.provider.kind == .postgres {
            try await store.provider.read { db in try await db.raw("VACUUM ANALYZE").run() }
        } else {
            try await store.provider.transaction { db in try await db.raw("ANALYZE").run() }
        }
        logger.info("analytics: data made in \(began.duration(to: clock.now))")
    }
}
