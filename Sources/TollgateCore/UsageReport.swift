import Foundation

/// Usage per feature and plan over a window (docs/metrics.md), computed from the
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

    /// What the rollup says of one feature under one plan in the window, before conversion.
    public struct Figures: Sendable, Hashable {
        public let feature: String
        public let planId: String
        public let activeCustomers: Int
        public let totalUsage: Int64
        public let medianPerCustomer: Int64?
        public let p90PerCustomer: Int64?
        public let customersAtLimit: Int
        /// Customers with any consume, allowed or refused.
        public let customersSeen: Int
        public let refusals: [String: Int64]

        public init(
            feature: String, planId: String, activeCustomers: Int, totalUsage: Int64, medianPerCustomer: Int64?,
            p90PerCustomer: Int64?, customersAtLimit: Int, customersSeen: Int, refusals: [String: Int64]
        ) {
            self.feature = feature
            self.planId = planId
            self.activeCustomers = activeCustomers
            self.totalUsage = totalUsage
            self.medianPerCustomer = medianPerCustomer
            self.p90PerCustomer = p90PerCustomer
            self.customersAtLimit = customersAtLimit
            self.customersSeen = customersSeen
            self.refusals = refusals
        }
    }

    /// A customer's first refusal naming a plan to upgrade to, for a feature under a plan.
    public struct Prompt: Sendable, Hashable {
        public let customerId: String
        public let feature: String
        public let planId: String
        public let at: Date

        public init(customerId: String, feature: String, planId: String, at: Date) {
            self.customerId = customerId
            self.feature = feature
            self.planId = planId
            self.at = at
        }
    }

    /// A feature and plan's upgrade prompts in the window, and how many of those customers moved
    /// to a higher plan within 14 days of their first.
    public struct Conversion: Sendable, Hashable {
        public let feature: String
        public let planId: String
        public let prompts: Int
        public let upgraded: Int

        public init(feature: String, planId: String, prompts: Int, upgraded: Int) {
            self.feature = feature
            self.planId = planId
            self.prompts = prompts
            self.upgraded = upgraded
        }
    }

    /// The conversions of `prompts`, from the prompted customers' plan history (any order).
    /// The database computes the same in SQL (`AnalyticsStore.upgradeConversions`).
    public static func conversions(
        _ prompts: [Prompt], changes: [CustomerSeries.State], ladder: [String: Int]
    ) -> [Conversion] {
        let history = Dictionary(grouping: changes, by: \.customerId)
        return Dictionary(grouping: prompts) { GroupKey(feature: $0.feature, planId: $0.planId) }.map { key, prompted in
            Conversion(
                feature: key.feature, planId: key.planId, prompts: prompted.count,
                upgraded: prompted.count { prompt in
                    upgradedAfter(
                        prompt.at, from: prompt.planId, history: history[prompt.customerId] ?? [], ladder: ladder)
                })
        }
    }

    /// The report from per-customer totals (any order): `figures`, then `rows`. The database
    /// computes the same figures in SQL (`AnalyticsStore.usageFigures`); this is their reference.
    public static func compute(_ totals: [Totals], changes: [CustomerSeries.State], ladder: [String: Int]) -> [Row] {
        let prompts = Dictionary(grouping: totals.filter { $0.firstUpgradePromptAt != nil }) {
            PromptKey(customerId: $0.customerId, feature: $0.feature, planId: $0.planId)
        }.map { key, rows in
            Prompt(
                customerId: key.customerId, feature: key.feature, planId: key.planId,
                at: rows.compactMap(\.firstUpgradePromptAt).min()!)
        }
        return rows(
            figures(totals), conversions: conversions(prompts, changes: changes, ladder: ladder), ladder: ladder)
    }

    private struct PromptKey: Hashable {
        let customerId: String
        let feature: String
        let planId: String
    }

    /// How many customers of a feature and plan reached exactly `total` units in a month (0: only
    /// refused): the monthly distribution the fold of the usage facts keeps.
    public struct Bucket: Sendable, Hashable {
        public let feature: String
        public let planId: String
        public let total: Int64
        public let customers: Int

        public init(feature: String, planId: String, total: Int64, customers: Int) {
            self.feature = feature
            self.planId = planId
            self.total = total
            self.customers = customers
        }
    }

    /// The figures from the month's distribution, and the refusals (events per reason) and
    /// customers at the limit counted apart. Nearest rank, as `percentile`.
    public static func figures(
        buckets: [Bucket], refusals: [String: [String: Int64]], atLimit: [String: Int]
    ) -> [Figures] {
        Dictionary(grouping: buckets) { GroupKey(feature: $0.feature, planId: $0.planId) }.map { key, buckets in
            let used = buckets.filter { $0.total > 0 && $0.customers > 0 }.sorted { $0.total < $1.total }
            let active = used.reduce(0) { $0 + $1.customers }
            func percentile(_ p: Int) -> Int64? {
                guard active > 0 else { return nil }
                let rank = nearestRank(p, of: active)
                var seen = 0
                for bucket in used {
                    seen += bucket.customers
                    if seen >= rank { return bucket.total }
                }
                return nil
            }
            let group = groupKey(feature: key.feature, planId: key.planId)
            return Figures(
                feature: key.feature, planId: key.planId, activeCustomers: active,
                totalUsage: used.reduce(0) { $0 + $1.total * Int64($1.customers) }, medianPerCustomer: percentile(50),
                p90PerCustomer: percentile(90), customersAtLimit: atLimit[group] ?? 0,
                customersSeen: buckets.reduce(0) { $0 + $1.customers }, refusals: refusals[group] ?? [:])
        }
    }

    /// The key of a feature and plan in `figures(buckets:refusals:atLimit:)`'s dictionaries.
    public static func groupKey(feature: String, planId: String) -> String { "\(feature)\u{1F}\(planId)" }

    /// Per feature and plan, what per-customer totals add up to.
    public static func figures(_ totals: [Totals]) -> [Figures] {
        Dictionary(grouping: totals) { GroupKey(feature: $0.feature, planId: $0.planId) }.map { key, rows in
            var perCustomer: [String: Int64] = [:]
            var seen = Set<String>()
            var atLimit = Set<String>()
            var refusals: [String: Int64] = [:]
            for row in rows {
                seen.insert(row.customerId)
                if row.outcome == "allowed" {
                    perCustomer[row.customerId, default: 0] += row.units
                } else {
                    refusals[row.outcome, default: 0] += row.events
                    if limitReasons.contains(row.outcome) { atLimit.insert(row.customerId) }
                }
            }
            let usage = perCustomer.values.filter { $0 > 0 }.sorted()
            return Figures(
                feature: key.feature, planId: key.planId, activeCustomers: usage.count, totalUsage: usage.reduce(0, +),
                medianPerCustomer: percentile(usage, 50), p90PerCustomer: percentile(usage, 90),
                customersAtLimit: atLimit.count, customersSeen: seen.count, refusals: refusals)
        }
    }

    /// The report's rows, sorted by feature then plan ladder order: the figures with the
    /// limit-to-upgrade conversion of each feature and plan.
    public static func rows(_ figures: [Figures], conversions: [Conversion], ladder: [String: Int]) -> [Row] {
        let converted = Dictionary(conversions.map { (GroupKey(feature: $0.feature, planId: $0.planId), $0) }) {
            first, _ in first
        }
        let rows = figures.map { figures -> Row in
            let conversion = converted[GroupKey(feature: figures.feature, planId: figures.planId)]
            let (prompts, upgraded) = (conversion?.prompts ?? 0, conversion?.upgraded ?? 0)
            return Row(
                feature: figures.feature, planId: figures.planId, activeCustomers: figures.activeCustomers,
                totalUsage: figures.totalUsage, medianPerCustomer: figures.medianPerCustomer,
                p90PerCustomer: figures.p90PerCustomer, customersAtLimit: figures.customersAtLimit,
                limitHitRate: figures.customersSeen == 0
                    ? nil : Double(figures.customersAtLimit) / Double(figures.customersSeen),
                refusals: figures.refusals, upgradePrompts: prompts, upgradedAfterPrompt: upgraded,
                limitToUpgradeRate: prompts == 0 ? nil : Double(upgraded) / Double(prompts))
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
    static func upgradedAfter(_ prompt: Date, from plan: String, history: [CustomerSeries.State], ladder: [String: Int])
        -> Bool
    {
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
        return sorted[nearestRank(p, of: sorted.count) - 1]
    }

    /// The 1-based position of the p-th percentile among `count` sorted values: ⌈p·count/100⌉,
    /// at least 1 (the database's query says the same in SQL).
    static func nearestRank(_ p: Int, of count: Int) -> Int { max(1, (p * count + 99) / 100) }
}
