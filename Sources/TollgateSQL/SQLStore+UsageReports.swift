import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

/// The usage report's figures, upgrade prompts and their conversions, from the usage rollups.
extension SQLStore {
    public func usageTotals(from: Date, to: Date) async throws -> [UsageReport.Totals] {
        try await foldUsageFacts()
        return try await provider.read { db in
            try await db.raw(
                """
                SELECT customer_id, feature, plan_id, outcome, CAST(SUM(units) AS BIGINT) AS units,
                    CAST(SUM(events) AS BIGINT) AS events,
                    MIN(prompt_at_ms) AS prompt_at_ms
                FROM usage_daily
                WHERE day_ms >= \(bind: Self.dayFloor(from)) AND day_ms < \(bind: Millis.from(to))
                GROUP BY customer_id, feature, plan_id, outcome
                """
            ).all().map { row in
                UsageReport.Totals(
                    customerId: try row.decode(column: "customer_id", as: String.self),
                    feature: try row.decode(column: "feature", as: String.self),
                    planId: try row.decode(column: "plan_id", as: String.self),
                    outcome: try row.decode(column: "outcome", as: String.self),
                    units: try row.decode(column: "units", as: Int64.self),
                    events: try row.decode(column: "events", as: Int64.self),
                    firstUpgradePromptAt: try row.decode(column: "prompt_at_ms", as: Int64?.self).map(Millis.date))
            }
        }
    }

    /// A calendar month is read from its distribution; any other window from the daily rollup.
    public func usageFigures(from: Date, to: Date) async throws -> [UsageReport.Figures] {
        try await foldUsageFacts()
        let month = PeriodMath.window(.monthly, containing: from, anchor: from)
        guard month.start == from, month.end == to else {
            return try await usageFigures(from: from, to: to, table: "usage_daily")
        }
        let (start, end) = (Millis.from(from), Millis.from(to))
        let limits = SQLList(
            [DenialReason.userQuotaExhausted, .workspaceQuotaExhausted].map { SQLLiteral.string($0.rawValue) })
        return try await provider.read { db in
            let buckets = try await db.raw(
                """
                SELECT feature, plan_id, total, customers FROM usage_month_totals
                WHERE month_ms = \(bind: start) AND customers > 0
                """
            ).all().map { row in
                UsageReport.Bucket(
                    feature: try row.decode(column: "feature", as: String.self),
                    planId: try row.decode(column: "plan_id", as: String.self),
                    total: try row.decode(column: "total", as: Int64.self),
                    customers: Int(try row.decode(column: "customers", as: Int64.self)))
            }
            // Refusals are a small part of the rollup, under a partial index.
            var refusals: [String: [String: Int64]] = [:]
            for row in try await db.raw(
                """
                SELECT feature, plan_id, outcome, CAST(SUM(events) AS BIGINT) AS events FROM usage_daily
                WHERE day_ms >= \(bind: start) AND day_ms < \(bind: end) AND outcome <> 'allowed'
                GROUP BY feature, plan_id, outcome
                """
            ).all() {
                let group = UsageReport.groupKey(
                    feature: try row.decode(column: "feature", as: String.self),
                    planId: try row.decode(column: "plan_id", as: String.self))
                refusals[group, default: [:]][try row.decode(column: "outcome", as: String.self)] =
                    try row.decode(column: "events", as: Int64.self)
            }
            var atLimit: [String: Int] = [:]
            for row in try await db.raw(
                """
                SELECT feature, plan_id, COUNT(DISTINCT customer_id) AS customers FROM usage_daily
                WHERE day_ms >= \(bind: start) AND day_ms < \(bind: end) AND outcome <> 'allowed'
                    AND outcome IN (\(limits))
                GROUP BY feature, plan_id
                """
            ).all() {
                let group = UsageReport.groupKey(
                    feature: try row.decode(column: "feature", as: String.self),
                    planId: try row.decode(column: "plan_id", as: String.self))
                atLimit[group] = Int(try row.decode(column: "customers", as: Int64.self))
            }
            return UsageReport.figures(buckets: buckets, refusals: refusals, atLimit: atLimit)
        }
    }

    /// The same figures from another table of the rollup's columns: the bench's plain
    /// aggregation over a raw event log (one row per consume) is this query over that log.
    public func usageFigures(from: Date, to: Date, table: String) async throws -> [UsageReport.Figures] {
        let (start, end) = (Self.dayFloor(from), Millis.from(to))
        let source = SQLIdentifier(table)
        let limits = SQLList(
            [DenialReason.userQuotaExhausted, .workspaceQuotaExhausted].map { SQLLiteral.string($0.rawValue) })
        return try await provider.read { db in
            // Nearest rank: the p-th percentile of n sorted totals is the one at position ⌈p·n/100⌉.
            let usage = try await db.raw(
                """
                WITH per_customer AS (
                    SELECT feature, plan_id, customer_id, CAST(SUM(units) AS BIGINT) AS total FROM \(source)
                    WHERE day_ms >= \(bind: start) AND day_ms < \(bind: end) AND outcome = 'allowed'
                    GROUP BY feature, plan_id, customer_id HAVING SUM(units) > 0
                ), ranked AS (
                    SELECT feature, plan_id, total,
                        ROW_NUMBER() OVER (PARTITION BY feature, plan_id ORDER BY total) AS position,
                        COUNT(*) OVER (PARTITION BY feature, plan_id) AS customers
                    FROM per_customer
                )
                SELECT feature, plan_id, MAX(customers) AS customers, CAST(SUM(total) AS BIGINT) AS total,
                    MIN(CASE WHEN position >= (customers * 50 + 99) / 100 THEN total END) AS median,
                    MIN(CASE WHEN position >= (customers * 90 + 99) / 100 THEN total END) AS p90
                FROM ranked GROUP BY feature, plan_id
                """
            ).all()
            let seen = try await db.raw(
                """
                SELECT feature, plan_id, COUNT(DISTINCT customer_id) AS seen,
                    COUNT(DISTINCT CASE WHEN outcome IN (\(limits)) THEN customer_id END) AS at_limit
                FROM \(source) WHERE day_ms >= \(bind: start) AND day_ms < \(bind: end)
                GROUP BY feature, plan_id
                """
            ).all()
            let refused = try await db.raw(
                """
                SELECT feature, plan_id, outcome, CAST(SUM(events) AS BIGINT) AS events FROM \(source)
                WHERE day_ms >= \(bind: start) AND day_ms < \(bind: end) AND outcome <> 'allowed'
                GROUP BY feature, plan_id, outcome
                """
            ).all()
            struct Group: Hashable {
                let feature: String
                let plan: String
            }
            func group(_ row: any SQLRow) throws -> Group {
                Group(
                    feature: try row.decode(column: "feature", as: String.self),
                    plan: try row.decode(column: "plan_id", as: String.self))
            }
            var used: [Group: (Int, Int64, Int64?, Int64?)] = [:]
            for row in usage {
                used[try group(row)] = (
                    Int(try row.decode(column: "customers", as: Int64.self)),
                    try row.decode(column: "total", as: Int64.self),
                    try row.decode(column: "median", as: Int64?.self), try row.decode(column: "p90", as: Int64?.self)
                )
            }
            var refusals: [Group: [String: Int64]] = [:]
            for row in refused {
                refusals[try group(row), default: [:]][try row.decode(column: "outcome", as: String.self)] =
                    try row.decode(column: "events", as: Int64.self)
            }
            return try seen.map { row in
                let key = try group(row)
                let (active, total, median, p90) = used[key] ?? (0, 0, nil, nil)
                return UsageReport.Figures(
                    feature: key.feature, planId: key.plan, activeCustomers: active, totalUsage: total,
                    medianPerCustomer: median, p90PerCustomer: p90,
                    customersAtLimit: Int(try row.decode(column: "at_limit", as: Int64.self)),
                    customersSeen: Int(try row.decode(column: "seen", as: Int64.self)), refusals: refusals[key] ?? [:])
            }
        }
    }

    public func upgradePrompts(from: Date, to: Date) async throws -> [UsageReport.Prompt] {
        try await foldUsageFacts()
        return try await provider.read { db in
            try await db.raw(
                """
                SELECT customer_id, feature, plan_id, MIN(prompt_at_ms) AS prompt_at_ms FROM usage_daily
                WHERE day_ms >= \(bind: Self.dayFloor(from)) AND day_ms < \(bind: Millis.from(to))
                    AND outcome <> 'allowed' AND prompt_at_ms IS NOT NULL
                GROUP BY customer_id, feature, plan_id
                """
            ).all().map { row in
                UsageReport.Prompt(
                    customerId: try row.decode(column: "customer_id", as: String.self),
                    feature: try row.decode(column: "feature", as: String.self),
                    planId: try row.decode(column: "plan_id", as: String.self),
                    at: Millis.date(try row.decode(column: "prompt_at_ms", as: Int64.self)))
            }
        }
    }

    public func upgradeConversions(from: Date, to: Date, ladder: [String: Int]) async throws
        -> [UsageReport.Conversion]
    {
        try await foldUsageFacts()
        return try await upgradeConversions(from: from, to: to, ladder: ladder, table: "usage_daily")
    }

    /// The same conversions, the prompts read from another table of the rollup's columns.
    public func upgradeConversions(from: Date, to: Date, ladder: [String: Int], table: String) async throws
        -> [UsageReport.Conversion]
    {
        guard !ladder.isEmpty else { return [] }
        let ranks = SQLList(
            ladder.sorted { $0.key < $1.key }.map { SQLQueryString("(\(bind: $0.key), \(bind: $0.value))") })
        let window = Int64(UsageReport.conversionWindow * 1000)
        return try await provider.read { db in
            try await db.raw(
                """
                WITH ladder (plan_id, plan_rank) AS (VALUES \(ranks)),
                prompts AS (
                    SELECT customer_id, feature, plan_id, MIN(prompt_at_ms) AS at_ms FROM \(ident: table)
                    WHERE day_ms >= \(bind: Self.dayFloor(from)) AND day_ms < \(bind: Millis.from(to))
                        AND outcome <> 'allowed' AND prompt_at_ms IS NOT NULL
                    GROUP BY customer_id, feature, plan_id
                )
                SELECT feature, plan_id, COUNT(*) AS prompts,
                    SUM(CASE WHEN EXISTS (
                        SELECT 1 FROM customer_states moved
                        JOIN ladder higher ON higher.plan_id = moved.plan_id
                        JOIN ladder prompted ON prompted.plan_id = prompts.plan_id
                        WHERE moved.customer_id = prompts.customer_id AND moved.at_ms > prompts.at_ms
                            AND moved.at_ms <= prompts.at_ms + \(bind: window)
                            AND higher.plan_rank > prompted.plan_rank
                    ) THEN 1 ELSE 0 END) AS upgraded
                FROM prompts GROUP BY feature, plan_id
                """
            ).all().map { row in
                UsageReport.Conversion(
                    feature: try row.decode(column: "feature", as: String.self),
                    planId: try row.decode(column: "plan_id", as: String.self),
                    prompts: Int(try row.decode(column: "prompts", as: Int64.self)),
                    upgraded: Int(try row.decode(column: "upgraded", as: Int64.self)))
            }
        }
    }
}
