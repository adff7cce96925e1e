import Foundation
import TollgateCore
import TollgateStorage

/// A spend cap: what it still allows of a feature's overage, decided in memory on one node and
/// in the database when several nodes count.
extension Meter {
    /// The counters (and quotas) of the subject's other overage-priced features in their
    /// current windows: what a spend cap's decision about one feature also reads.
    func otherOverageCounters(_ target: Target) -> [(CounterKey, Quota)] {
        overageQuotas(of: target.subject, plan: target.plan, at: clock.now()).compactMap { other in
            guard other.feature.id != target.quota.feature.id, let window = other.window else { return nil }
            return (counterKey(subjectId: target.subjectId, featureId: other.feature.id, window: window), other)
        }
    }

    /// How many units of overage a feature priced `price` may still take under `cap`, given
    /// what the other features' overage (at the counts `used` reports) already costs.
    static func overageAllowance(
        price: OveragePrice, cap: Money, others: [(CounterKey, Quota)], used: (CounterKey) -> Int64
    ) -> Int64? {
        let spent = others.reduce(Int64(0)) { sum, pair in
            sum + (Invoicing.overageLine(quota: pair.1, used: used(pair.0), currency: cap.currency)?.amount ?? 0)
        }
        return OverageMath.allowance(budget: cap.amountMinor - spent, price: price, currency: cap.currency)
    }

    /// The subject's metered quotas that have an overage price, at `date`.
    func overageQuotas(of subject: CustomerRecord, plan: Plan, at date: Date) -> [Quota] {
        catalog.features.compactMap { feature in
            guard case .metered(_, _, .some) = plan.features[feature.id] else { return nil }
            return Entitlements.quota(
                catalog: catalog, plan: plan, feature: feature, addOnQuantities: subject.addOns, now: date,
                anchor: subject.billingAnchor)
        }
    }

    /// What a spend cap still allows of `target`'s overage (in units), given what the other
    /// features' overage costs at their current counts; nil without a cap or an overage price.
    /// A check's answer: a consume decides the same under the counters' lock.
    func capAllowance(_ target: Target) async throws -> Int64? {
        guard let price = target.quota.overage, let cap = target.subject.spendCap else { return nil }
        let others = otherOverageCounters(target)
        var counts: [CounterKey: Int64] = [:]
        for (key, quota) in others { counts[key] = try await currentUsage(subjectId: target.subjectId, quota: quota) }
        return Self.overageAllowance(price: price, cap: cap, others: others) { counts[$0] ?? 0 }
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
    func consumeUnderCapAcrossNodes(_ prepared: PreparedConsume) async throws -> IdempotencyGate.Answer {
        let (target, quota, key) = (prepared.target, prepared.target.quota, prepared.key)
        let (customerId, amount) = (prepared.request.customerId, prepared.request.amount)
        guard let price = quota.overage, let cap = target.subject.spendCap else {
            throw DomainError(.internalError, "a capped consume needs an overage price and a cap")
        }
        let others = otherOverageCounters(target)
        let found = try await store.consumeSerialized(
            customerId: target.subjectId, keys: [key] + others.map(\.0),
            delta: counterDelta(key: key, quota: quota, delta: amount, leaseNode: nil), fact: prepared.usageFact,
            claim: IdempotencyClaim(
                scope: prepared.scope, key: prepared.request.idempotencyKey, fingerprint: prepared.fingerprint),
            at: clock.now()
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
