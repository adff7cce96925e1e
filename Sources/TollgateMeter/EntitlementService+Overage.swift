import Foundation
import TollgateCore
import TollgateStorage

/// Overage: what a spend cap allows, the customer's cap, and the overage lines of an invoice.
extension EntitlementService {
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

    /// Sets (or removes) the cap on what one period's overage may cost the customer.
    public func setSpendCap(customerId: String, cap: Money?) async throws -> CustomerRecord {
        guard let updated = try await store.setSpendCap(customerId: customerId, cap: cap, at: clock.now()) else {
            throw DomainError(.customerNotFound, "no customer with id \(customerId)", field: "customer")
        }
        remember(updated)
        return updated
    }

    /// The overage lines of a subject's period that contains `date`: one per metered feature
    /// used beyond its quota, priced in `currency`.
    public func overageLines(customerId: String, at date: Date, currency: Currency) async throws -> [InvoiceLine] {
        let subject = try await customer(id: customerId)
        let plan = plan(of: subject)
        var lines: [InvoiceLine] = []
        for quota in overageQuotas(of: subject, plan: plan, at: date) {
            if let line = Invoicing.overageLine(
                quota: quota, used: try await currentUsage(subjectId: customerId, quota: quota), currency: currency)
            {
                lines.append(line)
            }
        }
        return lines
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
}
