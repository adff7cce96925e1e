import Foundation

/// Usage per feature and plan over a window (issue 13, docs/metrics.md), computed from the
/// daily usage rollup and the customers' plan history (pure).
public enum UsageReport {
    /// One customer's use of a feature under a plan in the window, per outcome.
    public struct Totals: Sendable, Hashable {
        public let customerId: String
        public let feature: String
        public let planId: String
        /// `allowed`, or the reason of a refusal.
        public let outcome: String
        public let units: Int64
        public let events: Int64
        public let firstUpgradePromptAt: Date?

        public init(
            customerId: String, feature: String, planId: String, outcome: String, units: Int64, events: Int64,
            firstUpgradePromptAt: Date?
        ) {
            self.customerId = customerId
            self.feature = feature
            self.planId = planId
            self.outcome = outcome
            self.units = units
            self.events = events
            self.firstUpgradePromptAt = firstUpgradePromptAt
        }
    }

    /// A customer's plan from `at` on.
    public struct PlanChange: Sendable, Hashable {
        public let customerId: String
        public let at: Date
        public let planId: String

        public init(customerId: String, at: Date, planId: String) {
            self.customerId = customerId
            self.at = at
            self.planId = planId
        }
    }

    public struct Row: Sendable, Hashable {
        public let feature: String
        public let planId: String
        /// Customers with units counted (a consume allowed).
        public let activeCustomers: Int
        public let totalUsage: Int64
        public let medianPerCustomer: Int64?
        public let p90PerCustomer: Int64?
        /// Customers refused because the quota (their own or their workspace's) was used up.
        public let customersAtLimit: Int
        /// customersAtLimit ÷ customers with any consume, allowed or refused.
        public let limitHitRate: Double?
        public let refusals: [String: Int64]
        /// Customers refused with a plan to upgrade to.
        public let upgradePrompts: Int
        /// Of those, customers who moved to a higher plan within 14 days after the first prompt.
        public let upgradedAfterPrompt: Int
        public let limitToUpgradeRate: Double?
    }

    /// How long after a refusal naming a plan an upgrade still counts as its conversion.
    public static let conversionWindow: TimeInterval = 14 * 86_400

    static let limitReasons: Set<String> = [
        DenialReason.userQuotaExhausted.rawValue, DenialReason.workspaceQuotaExhausted.rawValue,
    ]

    /// Rows sorted by feature, then plan ladder order. `ladder` ranks plans (lower first);
    /// `changes` are plan changes of the customers (any order, any time).
    public static func compute(_ totals: [Totals], changes: [PlanChange], ladder: [String: Int]) -> [Row] {
        let history = Dictionary(grouping: changes, by: \.customerId).mapValues { $0.sorted { $0.at < $1.at } }
        let groups = Dictionary(grouping: totals) { GroupKey(feature: $0.feature, planId: $0.planId) }
        let rows = groups.map { key, rows -> Row in
            var perCustomer: [String: Int64] = [:]
            var seen = Set<String>()
            var atLimit = Set<String>()
            var refusals: [String: Int64] = [:]
            var prompts: [String: Date] = [:]
            for row in rows {
                seen.insert(row.customerId)
                if row.outcome == "allowed" {
                    perCustomer[row.customerId, default: 0] += row.units
                } else {
                    refusals[row.outcome, default: 0] += row.events
                    if limitReasons.contains(row.outcome) { atLimit.insert(row.customerId) }
                }
                if let prompt = row.firstUpgradePromptAt {
                    prompts[row.customerId] = min(prompts[row.customerId] ?? prompt, prompt)
                }
            }
            let usage = perCustomer.values.filter { $0 > 0 }.sorted()
            let upgraded = prompts.count { customer, prompt in
                upgradedAfter(prompt, from: key.planId, history: history[customer] ?? [], ladder: ladder)
            }
            return Row(
                feature: key.feature, planId: key.planId, activeCustomers: usage.count,
                totalUsage: usage.reduce(0, +), medianPerCustomer: percentile(usage, 50),
                p90PerCustomer: percentile(usage, 90), customersAtLimit: atLimit.count,
                limitHitRate: seen.isEmpty ? nil : Double(atLimit.count) / Double(seen.count),
                refusals: refusals, upgradePrompts: prompts.count, upgradedAfterPrompt: upgraded,
                limitToUpgradeRate: prompts.isEmpty ? nil : Double(upgraded) / Double(prompts.count))
        }
        return rows.sorted {
            ($0.feature, ladder[$0.planId] ?? Int.max, $0.planId) < (
                $1.feature, ladder[$1.planId] ?? Int.max, $1.planId
            )
        }
    }

    private struct GroupKey: Hashable {
        let feature: String
        let planId: String
    }

    /// Whether the customer's plan became one ranked above `plan` in (prompt, prompt + 14 days].
    static func upgradedAfter(_ prompt: Date, from plan: String, history: [PlanChange], ladder: [String: Int]) -> Bool {
        guard let rank = ladder[plan] else { return false }
        let end = prompt.addingTimeInterval(conversionWindow)
        return history.contains { change in
            change.at > prompt && change.at <= end && (ladder[change.planId].map { $0 > rank } ?? false)
        }
    }

    /// The nearest-rank percentile of sorted values: the smallest value with at least `p` % of
    /// the values at or below it (nil when empty).
    public static func percentile(_ sorted: [Int64], _ p: Int) -> Int64? {
        guard !sorted.isEmpty else { return nil }
        let rank = max(1, (p * sorted.count + 99) / 100)
        return sorted[rank - 1]
    }
}
