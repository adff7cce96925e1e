import TollgateCore
import TollgateStorage

extension EntitlementService {
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

    /// Whether a consume is decided in the database rather than in this node's memory: an
    /// overage-priced feature under a spend cap while several nodes count.
    func isDecidedAcrossNodes(_ quota: Quota, subject: CustomerRecord) -> Bool {
        leases != nil && quota.overage != nil && subject.spendCap != nil && quota.feature.creditCost == nil
    }

    /// A consume of an overage-priced feature by a customer with a spend cap, when several
    /// nodes count: the cap spans features, and each node sees only its own consumes in memory,
    /// so the decision is made against the committed counters with the customer's row locked
    /// (one such decision at a time per customer, on all nodes) and applied in that transaction.
    func consumeUnderCapAcrossNodes(
        target: Target, key: CounterKey, customerId: String, amount: Int64, scope: String, idempotencyKey: String,
        fingerprint: String
    ) async throws -> IdempotencyGate.Answer {
        let quota = target.quota
        guard let price = quota.overage, let cap = target.subject.spendCap else {
            throw DomainError(.internalError, "a capped consume needs an overage price and a cap")
        }
        let others = otherOverageCounters(target)
        let found = try await store.consumeSerialized(
            customerId: target.subjectId, keys: [key] + others.map(\.0),
            delta: counterDelta(key: key, quota: quota, delta: amount, leaseNode: nil),
            claim: IdempotencyClaim(scope: scope, key: idempotencyKey, fingerprint: fingerprint), at: clock.now()
        ) { [catalog] committed -> (UsageOutcome, response: String?) in
            let used = committed[key] ?? 0
            let allowance = Self.overageAllowance(price: price, cap: cap, others: others) { committed[$0] ?? 0 }
            let decision = Entitlements.decide(
                catalog: catalog, plan: target.plan, quota: quota, used: used, amount: amount,
                exhaustedReason: target.exhaustedReason,
                overageAllowance: allowance
            )
            let outcome = self.outcome(
                decision, customerId: customerId, feature: quota.feature.id, amount: amount,
                usedAfter: decision.allowed ? used + amount : used,
                overagePriced: true
            )
            return (outcome, decision.allowed ? outcome.compactRecord ?? outcome.storedJSON : nil)
        }
        switch found {
        case .alreadyAnswered: return .alreadyAnswered
        case .decided(let outcome): return outcome.allowed ? .outcome(outcome) : .refusal(outcome)
        }
    }
}
