import TollgateCore
import TollgateStorage

extension Meter {
    /// The limit a consume of `quota` is leased against, when leases apply: a finite, included
    /// quota without overage. Unlimited quotas need no lease; overage features count locally.
    func leasedLimit(_ quota: Quota) -> Int64? {
        guard leases != nil, quota.included, quota.overage == nil, let limit = quota.limit?.value else { return nil }
        return limit
    }

    /// Takes `amount` from this node's lease, asking the database for more while it runs short
    /// and the database still grants some (other callers on this node may take a grant first);
    /// refuses only when a grant comes back empty: the committed count and the units other
    /// consumes hold in flight leave no room for `amount`.
    func consumeFromLease(
        _ leases: QuotaLeases, key: CounterKey, target: Target, customerId: String, amount: Int64, limit: Int64
    ) async throws -> UsageOutcome {
        let quota = target.quota
        var used = leases.take(key, amount: amount)
        while used == nil, amount <= limit {
            let grant = try await leases.refill(
                key, period: (quota.period ?? .lifetime).rawValue, periodEndMillis: quota.window?.end.map(Millis.from),
                limit: limit, amount: amount
            )
            used = leases.take(key, amount: amount)
            if grant.granted == 0 { break }
        }
        guard let used else {
            // Refused as an exhausted quota, reporting the committed count (some of the rest may
            // be in flight on other nodes, and is not counted until committed).
            let decision = Entitlements.decide(
                catalog: catalog, plan: target.plan, quota: quota, used: limit, amount: amount,
                exhaustedReason: target.exhaustedReason
            )
            let committed = min(leases.committedSeen(key) ?? limit, limit)
            return outcome(
                decision, customerId: customerId, feature: quota.feature.id, amount: amount, usedAfter: committed)
        }
        let decision = Entitlements.decide(
            catalog: catalog, plan: target.plan, quota: quota, used: used - amount, amount: amount,
            exhaustedReason: target.exhaustedReason
        )
        return outcome(decision, customerId: customerId, feature: quota.feature.id, amount: amount, usedAfter: used)
    }
}
