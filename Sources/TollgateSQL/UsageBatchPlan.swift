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
        let day = SQLStore.day(Millis.from(batch.at))
        var rows: [UsageRollupRow.Key: UsageRollupRow] = [:]
        for (index, entry) in batch.entries.enumerated() where applied[index] {
            guard let fact = entry.fact else { continue }
            let key = UsageRollupRow.Key(
                day: day, feature: fact.feature, planId: fact.planId, customerId: fact.customerId,
                outcome: fact.outcome)
            var row = rows[key] ?? UsageRollupRow(key: key, units: 0, events: 0, upgradeTier: nil, promptAt: nil)
            row.units += fact.units
            row.events += 1
            if let tier = fact.upgradeTier, row.upgradeTier == nil {
                (row.upgradeTier, row.promptAt) = (tier, Millis.from(batch.at))
            }
            rows[key] = row
        }
        return Array(rows.values)
    }
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
    static let onConflict = """
        ON CONFLICT (day_ms, feature, plan_id, customer_id, outcome) DO UPDATE SET
            units = usage_daily.units + excluded.units, events = usage_daily.events + excluded.events,
            upgrade_tier = COALESCE(usage_daily.upgrade_tier, excluded.upgrade_tier),
            prompt_at_ms = COALESCE(usage_daily.prompt_at_ms, excluded.prompt_at_ms)
        """
}
