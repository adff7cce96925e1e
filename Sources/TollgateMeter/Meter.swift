import Foundation
import Logging
import Synchronization
import TollgateCore
import TollgateStorage

/// Answers "may this customer use this feature, and how much is left?" and records usage,
/// exactly: check-and-add happens under the counter's lock, and every accepted change is
/// committed (grouped with its neighbours) before the caller hears "allowed".
///
/// One node owns its counters; several nodes on one PostgreSQL share them through quota leases.
public final class Meter: Sendable {
    /// What the meter reads and writes besides customers: counters, leases, workspace roles.
    public typealias Store = UsageStore & LeaseStore & WorkspaceStore

    public var catalog: Catalog { customers.catalog }
    /// Whose usage is metered, under which plan.
    public let customers: CustomerDirectory
    let store: any Store
    let committer: GroupCommitter
    let clock: any TollgateClock
    let counters = CounterTable()
    let gate = IdempotencyGate()
    /// Serializes the overage decisions of customers with a spend cap: the cap spans features,
    /// so one feature's decision reads the others' counters.
    let cappedOverage = Mutex<Void>(())
    /// Debits the credits of features priced in credits: the same service (and cache of
    /// balances) the doors use. Nil for a meter built without one (tests of the meter alone).
    public let credits: CreditService?
    /// This node's quota leases, when several nodes share the database; nil on a single node.
    public let leases: QuotaLeases?
    let logger = Logger(label: "tollgate.meter")

    /// The largest amount one call may consume or release.
    public static let maximumAmount: Int64 = 1_000_000_000

    public init(
        customers: CustomerDirectory, store: any Store, committer: GroupCommitter, clock: any TollgateClock,
        credits: CreditService? = nil, leases: QuotaLeases? = nil
    ) {
        self.customers = customers
        self.credits = credits
        self.leases = leases
        self.store = store
        self.committer = committer
        self.clock = clock
    }

    /// Drops what this node holds of a customer after a change made elsewhere (a billing
    /// webhook, another node, the CLI): the cached record and the leases drawn under its plan.
    public func forget(customerId: String) {
        customers.forget(customerId: customerId)
        leases?.abandon(subject: Self.subject(customerId))
    }

    /// Drops every cached customer and lease (the change feed may have missed announcements).
    public func forgetAllCustomers() {
        customers.forgetAll()
        leases?.abandon(subject: nil)
    }

    // MARK: Memory

    /// Counters and leases held in memory now.
    public var liveCounters: Int { counters.count + (leases?.count ?? 0) }

    /// Drops the counters whose window ended more than `grace` ago and the leases that lapsed;
    /// how many. Past windows are never counted on again; their committed values stay stored.
    @discardableResult
    public func evictPastWindows(grace: TimeInterval = 600) -> Int {
        counters.evict(endedBefore: clock.now().addingTimeInterval(-grace)) + (leases?.evictLapsed() ?? 0)
    }

    // MARK: Reading

    public func entitlements(customerId: String) async throws -> CustomerEntitlements {
        let customer = try await customers.customer(id: customerId)
        let plan = customers.plan(of: customer)
        let now = clock.now()
        var features: [FeatureEntitlement] = []
        for feature in catalog.features {
            let quota = Entitlements.quota(
                catalog: catalog, plan: plan, feature: feature, addOnQuantities: customer.addOns, now: now,
                anchor: customer.billingAnchor
            )
            let used = try await currentUsage(subjectId: customerId, quota: quota)
            features.append(FeatureEntitlement(feature: feature, quota: quota, used: used))
        }
        return CustomerEntitlements(customerId: customerId, plan: plan, features: features)
    }

    /// Decides without recording anything.
    public func check(customerId: String, featureId: String, amount: Int64, workspaceId: String? = nil) async throws
        -> UsageOutcome
    {
        try Self.validate(amount: amount)
        let target = try await resolve(customerId: customerId, featureId: featureId, workspaceId: workspaceId)
        let used = try await currentUsage(subjectId: target.subjectId, quota: target.quota)
        let decision = Entitlements.decide(
            catalog: catalog, plan: target.plan, quota: target.quota, used: used, amount: amount,
            exhaustedReason: target.exhaustedReason,
            overageAllowance: try await capAllowance(target)
        )
        return outcome(
            decision, customerId: customerId, feature: featureId, amount: amount, usedAfter: used,
            overagePriced: target.quota.overage != nil)
    }

    public func usageHistory(customerId: String, from: Date, to: Date) async throws -> [UsageRow] {
        _ = try await customers.customer(id: customerId)
        return try await store.usageHistory(subject: Self.subject(customerId), from: from, to: to)
    }

    // MARK: Releasing

    /// Gives units back to a limit feature (a note was deleted). Never goes below zero.
    public func release(customerId: String, featureId: String, amount: Int64, idempotencyKey: String) async throws
        -> UsageOutcome
    {
        try Self.validate(amount: amount)
        let target = try await resolve(customerId: customerId, featureId: featureId, workspaceId: nil)
        let (plan, quota) = (target.plan, target.quota)
        guard quota.feature.type == .limit, let window = quota.window else {
            throw DomainError.invalidField(
                "feature",
                "\(featureId) is a \(quota.feature.type.rawValue) feature: only limit features can be released")
        }
        let key = counterKey(subjectId: customerId, featureId: featureId, window: window)
        let scope = "release:\(customerId)"
        return try await gate.run(
            scope: scope, key: idempotencyKey, fingerprint: "\(featureId)|\(amount)",
            lookup: { try await store.idempotencyRecord(scope: scope, key: idempotencyKey) },
            body: {
                try await counters.ensureLoaded(key, windowEnd: window.end) { try await store.counterValue(key) }
                let (released, outcome) = counters.update(key) { used -> (Int64, UsageOutcome) in
                    let released = min(used, amount)
                    used -= released
                    let decision = Entitlements.decide(
                        catalog: catalog, plan: plan, quota: quota, used: used, amount: 0)
                    var outcome = self.outcome(
                        decision, customerId: customerId, feature: featureId, amount: released, usedAfter: used)
                    (outcome.allowed, outcome.reason, outcome.upgradeTier) = (true, nil, nil)
                    return (released, outcome)
                }
                let entry = usageEntry(
                    key: key, quota: quota, delta: -released, scope: scope, idempotencyKey: idempotencyKey,
                    fingerprint: "\(featureId)|\(amount)", outcome: outcome, leaseNode: nil)
                let counted = Counted(
                    entry: entry, outcome: outcome, undo: { [counters] in counters.update(key) { $0 += released } },
                    settle: {})
                return try await commit([counted])[0].get()
            }
        )
    }

    // MARK: Internals

    /// Whose quota a request draws on, under which plan, and what a refusal is called.
    struct Target {
        let subject: CustomerRecord
        var subjectId: String { subject.id }
        let plan: Plan
        let quota: Quota
        let exhaustedReason: DenialReason
    }

    func resolve(customerId: String, featureId: String, workspaceId: String?) async throws -> Target {
        guard let feature = catalog.feature(featureId) else {
            throw DomainError(
                .featureNotFound, "no feature \(featureId) in catalog \(catalog.product)", field: "feature")
        }
        let customer = try await customers.customer(id: customerId)
        var subject = customer
        var reason = DenialReason.userQuotaExhausted
        if let workspaceId {
            guard let role = try await store.role(workspaceId: workspaceId, userId: customerId) else {
                throw DomainError(
                    .notFound, "customer \(customerId) is not a member of workspace \(workspaceId)", field: "workspace")
            }
            guard role.may(.useFeatures) else {
                throw DomainError(
                    .forbidden, "a \(role.rawValue) of the workspace cannot use its features (read only)",
                    field: "workspace")
            }
            let workspace = try await customers.customer(id: workspaceId)
            if customers.plan(of: workspace).workspacePools {
                subject = workspace
                reason = .workspaceQuotaExhausted
            }
        }
        let plan = customers.plan(of: subject)
        let quota = Entitlements.quota(
            catalog: catalog, plan: plan, feature: feature, addOnQuantities: subject.addOns, now: clock.now(),
            anchor: subject.billingAnchor
        )
        return Target(subject: subject, plan: plan, quota: quota, exhaustedReason: reason)
    }

    func currentUsage(subjectId: String, quota: Quota) async throws -> Int64 {
        guard let window = quota.window else { return 0 }
        let key = counterKey(subjectId: subjectId, featureId: quota.feature.id, window: window)
        // Several nodes count this one: what is committed is the truth, not this node's memory.
        if leases != nil { return try await store.counterValue(key) }
        try await counters.ensureLoaded(key, windowEnd: window.end) { try await store.counterValue(key) }
        return counters.value(key) ?? 0
    }

    func counterKey(subjectId: String, featureId: String, window: PeriodWindow) -> CounterKey {
        CounterKey(subject: Self.subject(subjectId), feature: featureId, periodStartMillis: Millis.from(window.start))
    }

    static func subject(_ customerId: String) -> String { Subject.customer(customerId) }

    func outcome(
        _ decision: Decision, customerId: String, feature: String, amount: Int64, usedAfter: Int64,
        overagePriced: Bool = false
    ) -> UsageOutcome {
        UsageOutcome(
            allowed: decision.allowed, customer: customerId, feature: feature, amount: amount, limit: decision.limit,
            used: usedAfter, remaining: decision.limit.map { max(0, $0 - usedAfter) }, resetsAt: decision.resetsAt,
            reason: decision.reason, upgradeTier: decision.upgradeTier,
            overage: overagePriced ? decision.limit.map { max(0, usedAfter - $0) } : nil
        )
    }

    static func validate(amount: Int64) throws {
        guard (1...maximumAmount).contains(amount) else {
            throw DomainError.invalidField("amount", "must be a whole number from 1 to \(maximumAmount)")
        }
    }
}
