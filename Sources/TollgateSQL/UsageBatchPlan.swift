import Foundation
import TollgateCore
import TollgateStorage

/// What a group commit writes, worked out before any SQL: the idempotency records to insert
/// (one per key), and, once the inserts said which entries are new, the counter deltas merged to
/// one per counter and the units taken from each node's lease. Shared by the SQLKit path and the
/// raw SQLite writer so that both apply a batch the same way.
struct UsageBatchPlan {
    /// Per entry: still to be applied. An entry repeating a key earlier in the batch is not.
    var applied: [Bool]
    /// Entries with a record, by their index in the batch; keys are distinct.
    let records: [(index: Int, record: IdempotencyRecord)]

    init(_ batch: UsageBatch) {
        var applied = Array(repeating: true, count: batch.entries.count)
        var seen = Set<String>()
        var records: [(Int, IdempotencyRecord)] = []
        for (index, entry) in batch.entries.enumerated() {
            guard let record = entry.record else { continue }
            guard seen.insert(Self.token(record.scope, record.key)).inserted else {
                applied[index] = false
                continue
            }
            records.append((index, record))
        }
        self.applied = applied
        self.records = records
    }

    static func token(_ scope: String, _ key: String) -> String { scope + "\u{1F}" + key }

    /// One delta per counter over the applied entries (PostgreSQL refuses an upsert that touches
    /// the same row twice, and one row written once is cheaper anyway).
    func mergedDeltas(of batch: UsageBatch) -> [CounterDelta] {
        var merged: [CounterKey: CounterDelta] = [:]
        for (index, entry) in batch.entries.enumerated() where applied[index] {
            for delta in entry.deltas {
                if let previous = merged[delta.key] {
                    merged[delta.key] = CounterDelta(
                        key: delta.key, period: delta.period, periodEndMillis: delta.periodEndMillis,
                        delta: previous.delta + delta.delta, alert: delta.alert ?? previous.alert
                    )
                } else {
                    merged[delta.key] = delta
                }
            }
        }
        return Array(merged.values)
    }

    /// Units consumed from each node's lease by the applied entries: they leave the lease, so
    /// what a node holds stays what it may still use.
    func leaseShrinks(of batch: UsageBatch) -> [(key: CounterKey, node: String, units: Int64)] {
        var leased: [String: (CounterKey, String, Int64)] = [:]
        for (index, entry) in batch.entries.enumerated() where applied[index] {
            for delta in entry.deltas where delta.delta > 0 {
                guard let node = delta.leaseNode else { continue }
                let token = Self.token(delta.key.description, node)
                leased[token] = (delta.key, node, (leased[token]?.2 ?? 0) + delta.delta)
            }
        }
        return leased.values.map { (key: $0.0, node: $0.1, units: $0.2) }
    }

    /// The applied entries' usage facts summed per UTC day (of the commit), customer, feature,
    /// plan and outcome: one upsert per row of the daily rollup.
    func rollup(of batch: UsageBatch) -> [UsageRollupRow] {
        let (day, at) = (SQLStore.day(Millis.from(batch.at)), Millis.from(batch.at))
        return UsageRollupRow.merged(
            batch.entries.enumerated().compactMap { index, entry in
                guard applied[index], let fact = entry.fact else { return nil }
                return UsageRollupRow(
                    key: UsageRollupRow.Key(
                        day: day, feature: fact.feature, planId: fact.planId, customerId: fact.customerId,
                        outcome: fact.outcome),
                    units: fact.units, events: 1, upgradeTier: fact.upgradeTier,
                    promptAt: fact.upgradeTier == nil ? nil : at)
            })
    }
}

extension UsageRollupRow {
    /// Rows (oldest first: a batch's facts, or the fact log) merged per day, customer, feature,
    /// plan and outcome; the first refusal naming a plan keeps its plan and time.
    static func merged(_ rows: [UsageRollupRow]) -> [UsageRollupRow] {
        var merged: [Key: UsageRollupRow] = [:]
        var order: [Key] = []
        for row in rows {
            guard var existing = merged[row.key] else {
                merged[row.key] = row
                order.append(row.key)
                continue
            }
            existing.units += row.units
            existing.events += row.events
            if existing.upgradeTier == nil {
                (existing.upgradeTier, existing.promptAt) = (row.upgradeTier, row.promptAt)
            }
            merged[row.key] = existing
        }
        return order.map { merged[$0]! }
    }
}

extension UsageMonthRow {
    /// Daily rows summed per calendar month, feature, plan and customer, in key order (the order
    /// rows are locked in, on every node alike).
    static func months(of rows: [UsageRollupRow]) -> [UsageMonthRow] {
        var months: [Key: UsageMonthRow] = [:]
        for row in rows {
            let day = Millis.date(row.key.day)
            let key = Key(
                month: Millis.from(PeriodMath.window(.monthly, containing: day, anchor: day).start),
                feature: row.key.feature, planId: row.key.planId, customerId: row.key.customerId)
            var month = months[key] ?? UsageMonthRow(key: key, units: 0, events: 0)
            month.units += row.units
            month.events += row.events
            months[key] = month
        }
        return months.values.sorted { $0.key < $1.key }
    }
}

/// One upsert into `usage_monthly` (a customer's month of a feature under a plan), and the move
/// it makes in the month's distribution of customers by total (`usage_month_totals`).
struct UsageMonthRow {
    struct Key: Hashable, Comparable {
        let month: Int64
        let feature: String
        let planId: String
        let customerId: String

        static func < (a: Key, b: Key) -> Bool {
            (a.month, a.feature, a.planId, a.customerId) < (b.month, b.feature, b.planId, b.customerId)
        }
    }
    let key: Key
    var units: Int64
    var events: Int64

    static let upsert = """
        INSERT INTO usage_monthly (month_ms, feature, plan_id, customer_id, units, events)
        """
    static let onConflict = """
        ON CONFLICT (month_ms, feature, plan_id, customer_id) DO UPDATE SET
            units = usage_monthly.units + excluded.units, events = usage_monthly.events + excluded.events
        RETURNING month_ms, feature, plan_id, customer_id, units, events
        """

    /// A bucket of the distribution: a month, feature, plan and total.
    struct Bucket: Hashable, Comparable {
        let month: Int64
        let feature: String
        let planId: String
        let total: Int64

        static func < (a: Bucket, b: Bucket) -> Bool {
            (a.month, a.feature, a.planId, a.total) < (b.month, b.feature, b.planId, b.total)
        }
    }

    /// Moves the customer between buckets, given the row's values after the upsert: into its
    /// new total (a new row: its first), out of its old one.
    func move(unitsAfter: Int64, eventsAfter: Int64, in buckets: inout [Bucket: Int64]) {
        let bucket = { (total: Int64) in
            Bucket(month: key.month, feature: key.feature, planId: key.planId, total: total)
        }
        if eventsAfter == events {
            buckets[bucket(unitsAfter), default: 0] += 1
        } else if units != 0 {
            buckets[bucket(unitsAfter - units), default: 0] -= 1
            buckets[bucket(unitsAfter), default: 0] += 1
        }
    }

    static let addToBucket = """
        INSERT INTO usage_month_totals (month_ms, feature, plan_id, total, customers)
        """
    static let bucketConflict = """
        ON CONFLICT (month_ms, feature, plan_id, total) DO UPDATE SET
            customers = usage_month_totals.customers + excluded.customers
        """
}

/// One upsert into `usage_daily`: units and events add up; the first refusal naming a plan to
/// upgrade to keeps its plan and time.
struct UsageRollupRow {
    struct Key: Hashable {
        let day: Int64
        let feature: String
        let planId: String
        let customerId: String
        let outcome: String
    }
    let key: Key
    var units: Int64
    var events: Int64
    var upgradeTier: String?
    var promptAt: Int64?

    static let insert = """
        INSERT INTO usage_daily (day_ms, feature, plan_id, customer_id, outcome, units, events, upgrade_tier,
            prompt_at_ms)
        """
    /// The same row appended to the fact log, folded into the rollups later (`SQLStore.foldUsageFacts`).
    static let append = """
        INSERT INTO usage_facts (day_ms, feature, plan_id, customer_id, outcome, units, events, upgrade_tier,
            prompt_at_ms)
        """
    static let onConflict = """
        ON CONFLICT (day_ms, feature, plan_id, customer_id, outcome) DO UPDATE SET
            units = usage_daily.units + excluded.units, events = usage_daily.events + excluded.events,
            upgrade_tier = COALESCE(usage_daily.upgrade_tier, excluded.upgrade_tier),
            prompt_at_ms = COALESCE(usage_daily.prompt_at_ms, excluded.prompt_at_ms)
        """
}
