import TollgateCore
import TollgateStorage

extension Meter {
    /// The limit a consume of `quota` is leased against, when leases apply: a finite, included
    /// quota without overage. Unlimited quotas need no lease; overage features count locally.
    func leasedLimit(_ quota: Quota) -> Int64? {
        guard leases != nil, quota.included, quota.overage == nil, let limit = quota.limit?.value else { return nil }
        return limit
    }

    /// Takes `amount` from this node's lease, asking the database for more when it runs short;
    /// refuses when no lease can cover it (the quota is used up, or held by other nodes).
    func consumeFromLease(
        _ leases: QuotaLeases, key: CounterKey, target: Target, customerId: String, amount: Int64, limit: Int64
    ) async throws -> UsageOutcome {
        let quota = target.quota
        var used = leases.take(key, amount: amount)
        if used == nil, amount <= limit {
            try await leases.refill(
                key, period: (quota.period ?? .lifetime).rawValue, periodEndMillis: quota.window?.end.map(Millis.from),
                limit: limit, amount: amount
            )
            used = leases.take(key, amount: amount)
        }
        guard let used else {
            // Nothing left to lease: refused as an exhausted quota, with the count last seen.
            let seen = max(leases.usedSeen(key) ?? limit, limit - amount + 1)
            let decision = Entitlements.decide(
                catalog: catalog, plan: target.plan, quota: quota, used: seen, amount: amount,
                exhaustedReason: target.exhaustedReason
            )
            return outcome(decision, customerId: customerId, feature: quota.feature.id, amount: amount, usedAfter: seen)
        }
        let decision = Entitlements.decide(
            catalog: catalog, plan: target.plan, quota: quota, used: used - amount, amount: amount,
            exhaustedReason: target.exhaustedReason
        )
        return outcome(decision, customerId: customerId, feature: quota.feature.id, amount: amount, usedAfter: used)
    }
}
