import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    static let millisPerDay: Int64 = 86_400_000

    static func day(_ millis: Int64) -> Int64 { millis - ((millis % millisPerDay) + millisPerDay) % millisPerDay }

    /// Appends the customer's state at `at` unless it is the latest one already; nil `status`
    /// keeps the latest status (a plan changed by hand).
    static func recordCustomerState(
        _ db: any SQLDatabase, customerId: String, at millis: Int64, planId: String, status: CustomerStatus?
    ) async throws {
        let latest = try await db.raw(
            """
            SELECT plan_id, status FROM customer_states WHERE customer_id = \(bind: customerId)
            ORDER BY at_ms DESC LIMIT 1
            """
        ).first()
        let latestPlan = try latest?.decode(column: "plan_id", as: String.self)
        let latestStatus = try latest.map { try $0.decode(column: "status", as: String.self) }
        let newStatus = status?.rawValue ?? latestStatus ?? CustomerStatus.free.rawValue
        guard latestPlan != planId || latestStatus != newStatus else { return }
        try await db.raw(
            """
            INSERT INTO customer_states (customer_id, at_ms, plan_id, status)
            VALUES (\(bind: customerId), \(bind: millis), \(bind: planId), \(bind: newStatus))
            ON CONFLICT (customer_id, at_ms) DO UPDATE SET plan_id = excluded.plan_id, status = excluded.status
            """
        ).run()
        // The listing's copy of the current status: the latest state's, whatever order states came in.
        try await db.raw(
            """
            UPDATE customers SET status = (
                SELECT status FROM customer_states WHERE customer_id = \(bind: customerId)
                ORDER BY at_ms DESC LIMIT 1)
            WHERE id = \(bind: customerId)
            """
        ).run()
    }

    /// The revenue rollup filled from the raw movements (a rebuild; migration 25 holds its own copy).
    static let fillRevenueDaily = """
        INSERT INTO revenue_daily (currency, day_ms, kind, amount_minor, movements)
        SELECT currency, at_ms - (at_ms % 86400000), kind, SUM(amount_minor), COUNT(*)
        FROM revenue_movements GROUP BY currency, at_ms - (at_ms % 86400000), kind
        """

    /// The trials' rollup filled from the trials.
    static let fillTrialsDaily = """
        INSERT INTO trials_daily (currency, day_ms, started, ended, converted)
        SELECT currency, day_ms, SUM(started), SUM(ended), SUM(converted) FROM (
            SELECT currency, started_at_ms - (started_at_ms % 86400000) AS day_ms, 1 AS started, 0 AS ended,
                0 AS converted
            FROM trials
            UNION ALL
            SELECT currency, ended_at_ms - (ended_at_ms % 86400000), 0, 1, COALESCE(converted, 0)
            FROM trials WHERE ended_at_ms IS NOT NULL
        ) AS happened GROUP BY currency, day_ms
        """

    /// The monthly usage rollup filled from the daily one.
    static func fillUsageMonthly(_ kind: DatabaseKind) -> String {
        // The first instant of the UTC month containing `day_ms`, in the database's own words.
        let month =
            kind == .postgres
            ? "CAST(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(day_ms / 1000) AT TIME ZONE 'UTC')) * 1000"
                + " AS BIGINT)"
            : "CAST(strftime('%s', day_ms / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000"
        return """
            INSERT INTO usage_monthly (month_ms, feature, plan_id, customer_id, units, events)
            SELECT \(month), feature, plan_id, customer_id, SUM(units), SUM(events)
            FROM usage_daily GROUP BY \(month), feature, plan_id, customer_id
            """
    }

    /// The months' distributions filled from the monthly rollup.
    static let fillUsageMonthTotals = """
        INSERT INTO usage_month_totals (month_ms, feature, plan_id, total, customers)
        SELECT month_ms, feature, plan_id, units, COUNT(*) FROM usage_monthly GROUP BY month_ms, feature, plan_id, units
        """

    /// Serializes folds across nodes (PostgreSQL advisory lock key).
    static let foldLock: Int64 = 0x7467_666F_6C64

    @discardableResult
    public func foldUsageFacts() async throws -> Int {
        let limit = 20_000
        var folded = 0
        while true {
            let count = try await provider.transaction { [provider] db in
                if provider.kind == .postgres {
                    try await db.raw("SELECT pg_advisory_xact_lock(\(bind: Self.foldLock))").run()
                }
                let rows = try await db.raw(
                    """
                    SELECT id, day_ms, feature, plan_id, customer_id, outcome, units, events, upgrade_tier, prompt_at_ms
                    FROM usage_facts ORDER BY id LIMIT \(bind: limit)
                    """
                ).all()
                guard let last = try rows.last?.decode(column: "id", as: Int64.self) else { return 0 }
                let daily = UsageRollupRow.merged(
                    try rows.map { row in
                        UsageRollupRow(
                            key: UsageRollupRow.Key(
                                day: try row.decode(column: "day_ms", as: Int64.self),
                                feature: try row.decode(column: "feature", as: String.self),
                                planId: try row.decode(column: "plan_id", as: String.self),
                                customerId: try row.decode(column: "customer_id", as: String.self),
                                outcome: try row.decode(column: "outcome", as: String.self)),
                            units: try row.decode(column: "units", as: Int64.self),
                            events: try row.decode(column: "events", as: Int64.self),
                            upgradeTier: try row.decode(column: "upgrade_tier", as: String?.self),
                            promptAt: try row.decode(column: "prompt_at_ms", as: Int64?.self))
                    })
                for chunk in daily.chunks(of: SQLKitUsageWriter.rowsPerStatement) {
                    try await SQLKitUsageWriter.addToRollup(chunk, on: db)
                }
                try await SQLKitUsageWriter.addToMonths(UsageMonthRow.months(of: daily), on: db)
                try await db.raw("DELETE FROM usage_facts WHERE id <= \(bind: last)").run()
                return rows.count
            }
            folded += count
            if count < limit { return folded }
        }
    }

    /// Rebuilds the monthly usage rollup and its distributions from the daily rollup.
    public func rebuildUsageMonthly() async throws {
        let statements = [
            "DELETE FROM usage_monthly", "DELETE FROM usage_month_totals", Self.fillUsageMonthly(provider.kind),
            Self.fillUsageMonthTotals,
        ]
        try await provider.transaction { db in
            for statement in statements { try await db.raw(SQLQueryString(statement)).run() }
        }
    }

    /// Rebuilds the revenue and trial rollups from the movements and trials, in one transaction.
    public func rebuildRevenueRollups() async throws {
        try await provider.transaction { db in
            for statement in [
                "DELETE FROM revenue_daily", "DELETE FROM trials_daily", Self.fillRevenueDaily, Self.fillTrialsDaily,
            ] {
                try await db.raw(SQLQueryString(statement)).run()
            }
        }
    }

    public func track(_ events: [TrackedEvent], receivedAt: Date) async throws -> [Bool] {
        try await provider.transaction { db in
            let list = SQLList(Set(events.map(\.customerId)).map { SQLBind($0) })
            let known = Set(
                try await db.raw("SELECT id FROM customers WHERE id IN (\(list))").all().map {
                    try $0.decode(column: "id", as: String.self)
                })
            if let missing = events.firstIndex(where: { !known.contains($0.customerId) }) {
                throw DomainError(
                    .customerNotFound, "no customer \(events[missing].customerId)", field: "events[\(missing)].customer"
                )
            }
            var fresh: [Bool] = []
            var activity: [ActivityKey: Int64] = [:]
            for event in events {
                let inserted =
                    try await db.raw(
                        """
                        INSERT INTO tracked_events (customer_id, idempotency_key, name, at_ms, properties,
                            received_at_ms)
                        VALUES (\(bind: event.customerId), \(bind: event.idempotencyKey), \(bind: event.name),
                            \(bind: Millis.from(event.at)), \(bind: event.properties), \(bind: Millis.from(receivedAt)))
                        ON CONFLICT (customer_id, idempotency_key) DO NOTHING
                        RETURNING customer_id
                        """
                    ).first() != nil
                fresh.append(inserted)
                if inserted {
                    let key = ActivityKey(
                        day: Self.day(Millis.from(event.at)), name: event.name, customerId: event.customerId)
                    activity[key, default: 0] += 1
                }
            }
            for (key, count) in activity {
                try await db.raw(
                    """
                    INSERT INTO activity_daily (day_ms, name, customer_id, events)
                    VALUES (\(bind: key.day), \(bind: key.name), \(bind: key.customerId), \(bind: count))
                    ON CONFLICT (day_ms, name, customer_id)
                    DO UPDATE SET events = activity_daily.events + excluded.events
                    """
                ).run()
            }
            return fresh
        }
    }

    struct ActivityKey: Hashable {
        let day: Int64
        let name: String
        let customerId: String
    }

    static func decodeState(_ row: any SQLRow) throws -> CustomerSeries.State {
        CustomerSeries.State(
            customerId: try row.decode(column: "customer_id", as: String.self),
            at: Millis.date(try row.decode(column: "at_ms", as: Int64.self)),
            planId: try row.decode(column: "plan_id", as: String.self),
            status: CustomerStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .free)
    }

    public func activeDays(from: Date, to: Date) async throws -> [ActiveDay] {
        try await foldUsageFacts()
        let (start, end) = (Self.dayFloor(from), Millis.from(to))
        return try await provider.read { db in
            try await db.raw(
                """
                SELECT DISTINCT day_ms, customer_id FROM usage_daily
                WHERE day_ms >= \(bind: start) AND day_ms < \(bind: end)
                UNION
                SELECT DISTINCT day_ms, customer_id FROM activity_daily
                WHERE day_ms >= \(bind: start) AND day_ms < \(bind: end)
                """
            ).all().map { row in
                ActiveDay(
                    customerId: try row.decode(column: "customer_id", as: String.self),
                    day: Millis.date(try row.decode(column: "day_ms", as: Int64.self)))
            }
        }
    }

    public func adoption(from: Date, to: Date) async throws -> [AdoptionCount] {
        try await foldUsageFacts()
        let (start, end) = (Self.dayFloor(from), Millis.from(to))
        return try await provider.read { db in
            try await db.raw(
                """
                SELECT 'feature' AS source, feature AS name, COUNT(DISTINCT customer_id) AS customers FROM usage_daily
                WHERE day_ms >= \(bind: start) AND day_ms < \(bind: end) AND outcome = 'allowed'
                GROUP BY feature
                UNION ALL
                SELECT 'event' AS source, name, COUNT(DISTINCT customer_id) AS customers FROM activity_daily
                WHERE day_ms >= \(bind: start) AND day_ms < \(bind: end)
                GROUP BY name
                """
            ).all().map { row in
                AdoptionCount(
                    name: try row.decode(column: "name", as: String.self),
                    source: AdoptionCount.Source(rawValue: try row.decode(column: "source", as: String.self)) ?? .event,
                    customers: Int(try row.decode(column: "customers", as: Int64.self)))
            }
        }
    }

    public func customerStates(before: Date) async throws -> [CustomerSeries.State] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT customer_id, at_ms, plan_id, status FROM customer_states
                WHERE at_ms < \(bind: Millis.from(before))
                ORDER BY customer_id, at_ms
                """
            ).all().map(Self.decodeState)
        }
    }

    public func signUps(before: Date) async throws -> [(customerId: String, at: Date)] {
        try await provider.read { db in
            try await db.raw(
                "SELECT id, created_at_ms FROM customers WHERE created_at_ms < \(bind: Millis.from(before))"
            )
            .all().map { row in
                (
                    customerId: try row.decode(column: "id", as: String.self),
                    at: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self))
                )
            }
        }
    }

    /// The start of the UTC day containing `date`, in milliseconds.
    static func dayFloor(_ date: Date) -> Int64 { day(Millis.from(date)) }
}
