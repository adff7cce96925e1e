import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    /// The customer columns, of the table aliased `c`.
    static let listedCustomerColumns = customerColumns.split(separator: ",")
        .map { "c." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")

    public func listCustomers(_ query: CustomerQuery) async throws -> [CustomerListing] {
        if query.nearLimit, query.quotas.isEmpty { return [] }
        var conditions: [SQLQueryString] = []
        if let text = query.text, !text.isEmpty {
            let anywhere = "%" + Self.likeEscaped(text.lowercased()) + "%"
            conditions.append(
                """
                (c.id = \(bind: text) OR c.id LIKE \(bind: Self.likeEscaped(text) + "%") ESCAPE '!'
                    OR LOWER(COALESCE(c.email, '')) LIKE \(bind: anywhere) ESCAPE '!'
                    OR LOWER(COALESCE(c.name, '')) LIKE \(bind: anywhere) ESCAPE '!')
                """)
        }
        if let plan = query.planId { conditions.append("c.plan_id = \(bind: plan)") }
        if let status = query.status { conditions.append("c.status = \(bind: status.rawValue)") }
        var with: SQLQueryString = ""
        if query.nearLimit {
            with = Self.quotasTable(query.quotas) + " "
            conditions.append(
                """
                EXISTS (SELECT 1 FROM usage_counters u JOIN quotas q ON q.feature = u.feature
                    WHERE q.plan_id = c.plan_id AND u.subject = \(bind: Subject.customer("")) || c.id
                        AND (u.period_end_ms IS NULL OR u.period_end_ms > \(bind: Millis.from(query.now)))
                        AND u.used * 5 >= q.quota * 4)
                """)
        }
        let order: SQLQueryString
        switch query.sort {
        case .created:
            order = "c.created_at_ms DESC, c.id DESC"
            if let after = query.after, let key = Int64(after.key) {
                conditions.append(
                    "(c.created_at_ms < \(bind: key) OR (c.created_at_ms = \(bind: key) AND c.id < \(bind: after.id)))")
            }
        case .createdAscending:
            order = "c.created_at_ms, c.id"
            if let after = query.after, let key = Int64(after.key) {
                conditions.append(
                    "(c.created_at_ms > \(bind: key) OR (c.created_at_ms = \(bind: key) AND c.id > \(bind: after.id)))")
            }
        case .id:
            order = "c.id"
            if let after = query.after { conditions.append("c.id > \(bind: after.id)") }
        case .email:
            order = "COALESCE(c.email, ''), c.id"
            if let after = query.after {
                conditions.append(
                    """
                    (COALESCE(c.email, '') > \(bind: after.key)
                        OR (COALESCE(c.email, '') = \(bind: after.key) AND c.id > \(bind: after.id)))
                    """)
            }
        }
        let filter: SQLQueryString = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql: SQLQueryString = """
            \(with)SELECT \(unsafeRaw: Self.listedCustomerColumns), c.status FROM customers c \(filter)
            ORDER BY \(order) LIMIT \(bind: query.limit)
            """
        return try await provider.read { db in
            try await db.raw(sql).all().map { row in
                CustomerListing(
                    customer: try Self.decodeCustomer(row),
                    status: CustomerStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .free)
            }
        }
    }

    public func customersAtLimit(_ quotas: [CustomerQuery.Quota], now: Date) async throws
        -> [CustomerQuery.Quota: Int]
    {
        guard !quotas.isEmpty else { return [:] }
        let byKey = Dictionary(quotas.map { (UsageReport.groupKey(feature: $0.feature, planId: $0.planId), $0) }) {
            first, _ in first
        }
        return try await provider.read { db in
            var counts: [CustomerQuery.Quota: Int] = [:]
            for row in try await db.raw(
                """
                \(Self.quotasTable(quotas))
                SELECT q.plan_id, q.feature, COUNT(DISTINCT c.id) AS n
                FROM customers c JOIN quotas q ON q.plan_id = c.plan_id
                    JOIN usage_counters u ON u.subject = \(bind: Subject.customer("")) || c.id
                        AND u.feature = q.feature
                WHERE (u.period_end_ms IS NULL OR u.period_end_ms > \(bind: Millis.from(now))) AND u.used >= q.quota
                GROUP BY q.plan_id, q.feature
                """
            ).all() {
                let plan = try row.decode(column: "plan_id", as: String.self)
                let feature = try row.decode(column: "feature", as: String.self)
                if let quota = byKey[UsageReport.groupKey(feature: feature, planId: plan)] {
                    counts[quota] = Int(try row.decode(column: "n", as: Int64.self))
                }
            }
            return counts
        }
    }

    /// `WITH quotas (plan_id, feature, quota)`: the plans' quotas as a table the query joins.
    static func quotasTable(_ quotas: [CustomerQuery.Quota]) -> SQLQueryString {
        let rows = SQLList(
            quotas.map {
                SQLQueryString("(\(bind: $0.planId), \(bind: $0.feature), CAST(\(bind: $0.limit) AS BIGINT))")
            })
        return "WITH quotas (plan_id, feature, quota) AS (VALUES \(rows))"
    }

    public func customerStatus(id: String) async throws -> CustomerStatus? {
        try await provider.read { db in
            try await db.raw("SELECT status FROM customers WHERE id = \(bind: id)").first().map {
                CustomerStatus(rawValue: try $0.decode(column: "status", as: String.self)) ?? .free
            }
        }
    }

    public func customerCountsByStatus() async throws -> [CustomerStatus: Int] {
        try await provider.read { db in
            var counts: [CustomerStatus: Int] = [:]
            for row in try await db.raw("SELECT status, COUNT(*) AS n FROM customers GROUP BY status").all() {
                guard let status = CustomerStatus(rawValue: try row.decode(column: "status", as: String.self))
                else { continue }
                counts[status] = try row.decode(column: "n", as: Int.self)
            }
            return counts
        }
    }

    public func signUpCounts(edges: [Date]) async throws -> [Int] {
        guard edges.count > 1 else { return [] }
        return try await provider.read { db in
            var counts: [Int] = []
            for (start, end) in zip(edges, edges.dropFirst()) {
                let row = try await db.raw(
                    """
                    SELECT COUNT(*) AS n FROM customers
                    WHERE created_at_ms >= \(bind: Millis.from(start)) AND created_at_ms < \(bind: Millis.from(end))
                    """
                ).first()
                counts.append(try row?.decode(column: "n", as: Int.self) ?? 0)
            }
            return counts
        }
    }

    public func customerHistory(id: String, limit: Int) async throws -> [(at: Date, planId: String, status: String)] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT at_ms, plan_id, status FROM customer_states WHERE customer_id = \(bind: id)
                ORDER BY at_ms DESC LIMIT \(bind: limit)
                """
            ).all().map { row in
                (
                    at: Millis.date(try row.decode(column: "at_ms", as: Int64.self)),
                    planId: try row.decode(column: "plan_id", as: String.self),
                    status: try row.decode(column: "status", as: String.self)
                )
            }
        }
    }

    public func recentRefusals(customerId: String, limit: Int) async throws
        -> [(day: Date, feature: String, reason: String, count: Int64)]
    {
        try await foldUsageFacts()
        return try await provider.read { db in
            try await db.raw(
                """
                SELECT day_ms, feature, outcome, CAST(SUM(events) AS BIGINT) AS n FROM usage_daily
                WHERE customer_id = \(bind: customerId) AND outcome <> 'allowed'
                GROUP BY day_ms, feature, outcome ORDER BY day_ms DESC, feature, outcome LIMIT \(bind: limit)
                """
            ).all().map { row in
                (
                    day: Millis.date(try row.decode(column: "day_ms", as: Int64.self)),
                    feature: try row.decode(column: "feature", as: String.self),
                    reason: try row.decode(column: "outcome", as: String.self),
                    count: try row.decode(column: "n", as: Int64.self)
                )
            }
        }
    }

    /// `text` matched literally by LIKE … ESCAPE '!'.
    static func likeEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "!" { escaped.append("!") }
            escaped.append(character)
        }
        return escaped
    }
}
