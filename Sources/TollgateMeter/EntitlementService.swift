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
public final class EntitlementService: Sendable {
    /// What the service reads and writes: customers, counters, leases, workspace roles.
    public typealias Store = CustomerStore & UsageStore & LeaseStore & WorkspaceStore

    public let catalog: Catalog
    let store: any Store
    let committer: GroupCommitter
    let clock: any TollgateClock
    private let logger: Logger
    let counters = CounterTable()
    let gate = IdempotencyGate()
    /// Customers read recently, at most `customerCacheCapacity` (least recently used dropped).
    private let customers: Mutex<LRUCache<String, CustomerRecord>>
    /// Serializes the overage decisions of customers with a spend cap: the cap spans features,
    /// so one feature's decision reads the others' counters.
    private let cappedOverage = Mutex<Void>(())
    /// Debits the credits of features priced in credits; nil when nothing is.
    let credits: CreditService?
    /// This node's quota leases, when several nodes share the database; nil on a single node.
    public let leases: QuotaLeases?

    /// The largest amount one call may consume or release.
    public static let maximumAmount: Int64 = 1_000_000_000

    public init(
        catalog: Catalog, store: any Store, committer: GroupCommitter, clock: any TollgateClock, logger: Logger,
        credits: CreditService? = nil, leases: QuotaLeases? = nil, customerCacheCapacity: Int = 100_000
    ) {
        customers = Mutex(LRUCache(capacity: customerCacheCapacity))
        self.credits = credits
        self.leases = leases
        self.catalog = catalog
        self.store = store
        self.committer = committer
        self.clock = clock
        self.logger = logger
    }

    // MARK: Customers

    /// Creates the customer on the catalog's default plan. Returns the stored record and whether
    /// it was created now; an existing id with other data is a conflict.
    public func createCustomer(id: String, email: String?, name: String?) async throws -> (
        CustomerRecord, created: Bool
    ) {
        let now = clock.now()
        let record = CustomerRecord(
            id: id, email: email, name: name, planId: catalog.defaultPlanId, billingAnchor: now, createdAt: now,
            updatedAt: now
        )
        switch try await store.createCustomer(record) {
        case .created(let created):
            remember(created)
            return (created, true)
        case .existing(let existing):
            guard existing.email == email, existing.name == name else {
                throw DomainError(.conflict, "customer \(id) already exists with different data", field: "id")
            }
            remember(existing)
            return (existing, false)
        }
    }

    public func customer(id: String) async throws -> CustomerRecord {
        if let cached = customers.withLock({ $0.get(id) }) { return cached }
        guard let stored = try await store.customer(id: id) else {
            throw DomainError(.customerNotFound, "no customer with id \(id)", field: "customer")
        }
        remember(stored)
        return stored
    }

    /// Add-ons and seats bought with a plan.
    public struct Purchases: Sendable {
        public var addOns: [String: Int]
        public var seats: Int?

        public init(addOns: [String: Int], seats: Int?) {
            self.addOns = addOns
            self.seats = seats
        }
    }

    /// The operator's manual plan change, optionally replacing the add-ons and seats bought.
    /// Everything is checked against the target plan before anything is written, so a refused
    /// request changes nothing.
    public func changePlan(customerId: String, planId: String, purchases: Purchases? = nil) async throws
        -> CustomerRecord
    {
        guard let plan = catalog.plan(planId) else {
            throw DomainError(.planNotFound, "no plan \(planId) in catalog \(catalog.product)", field: "plan")
        }
        if let purchases { try validate(purchases, for: plan) }
        var updated = try await customer(id: customerId)
        if updated.planId != planId {
            guard let moved = try await store.changePlan(customerId: customerId, planId: planId, at: clock.now()) else {
                throw DomainError(.customerNotFound, "no customer with id \(customerId)", field: "customer")
            }
            updated = moved
        }
        if let purchases {
            guard
                let bought = try await store.setAddOns(
                    customerId: customerId, addOns: purchases.addOns.filter { $0.value > 0 }, seats: purchases.seats,
                    at: clock.now()
                )
            else {
                throw DomainError(.customerNotFound, "no customer with id \(customerId)", field: "customer")
            }
            updated = bought
        }
        remember(updated)
        return updated
    }

    private func validate(_ purchases: Purchases, for plan: Plan) throws {
        for (id, quantity) in purchases.addOns {
            guard let addOn = catalog.addOns.first(where: { $0.id == id }) else {
                throw DomainError.invalidField("addOns.\(id)", "no add-on \(id) in catalog \(catalog.product)")
            }
            guard addOn.plans.isEmpty || addOn.plans.contains(plan.id) else {
                throw DomainError.invalidField("addOns.\(id)", "\(id) is not sold with plan \(plan.id)")
            }
            guard (0...10_000).contains(quantity) else {
                throw DomainError.invalidField("addOns.\(id)", "quantity must be from 0 to 10000")
            }
        }
        guard let seats = purchases.seats else { return }
        guard let perSeat = plan.prices.first(where: { $0.perSeatAmount != nil }) else {
            throw DomainError.invalidField("seats", "plan \(plan.id) is not priced per seat")
        }
        if let minimum = perSeat.minimumSeats, seats < minimum {
            throw DomainError.invalidField("seats", "plan \(plan.id) bills at least \(minimum) seats")
        }
        if let maximum = perSeat.maximumSeats, seats > maximum {
            throw DomainError.invalidField("seats", "beyond \(maximum) seats, contact sales")
        }
    }

    /// Drops a cached customer after a change made elsewhere (a billing webhook), so the next
    /// request reads the stored plan.
    public func forget(customerId: String) {
        _ = customers.withLock { $0.removeValue(forKey: customerId) }
        leases?.abandon(subject: Self.subject(customerId))
    }

    /// Drops every cached customer (the change feed may have missed announcements).
    public func forgetAllCustomers() {
        customers.withLock { $0.removeAll() }
        leases?.abandon(subject: nil)
    }

    func remember(_ customer: CustomerRecord) {
        customers.withLock { _ = $0.set(customer.id, customer) }
    }

    func plan(of customer: CustomerRecord) -> Plan {
        if let plan = catalog.plan(customer.planId) { return plan }
        // A plan removed from the catalog must not lock the customer out: they fall back to the default.
        logger.warning("customer \(customer.id) is on plan \(customer.planId), which the catalog no longer has")
        return catalog.defaultPlan
    }

    // MARK: Memory

    /// Customers held in the cache now.
    public var cachedCustomers: Int { customers.withLock { $0.count } }

    /// Counters and leases held in memory now.
    public var liveCounters: Int { counters.count + (leases?.count ?? 0) }

    /// Drops the counters whose window ended more than `grace` ago and the leases that lapsed;
    /// how many. Past windows are never counted on again; their committed values stay stored.
    @discardableResult
    public func evictPastWindows(grace: TimeInterval = 600) -> Int {
        counters.evict(endedBefore: clock.now().addingTimeInterval(-grace)) + (leases?.evictLapsed() ?? 0)
    }

    // MARK: Entitlements

    public func entitlements(customerId: String) async throws -> CustomerEntitlements {
        let customer = try await customer(id: customerId)
        let plan = plan(of: customer)
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

    /// Counts `amount` if it fits; answers only once the count is durable.
    /// With a workspace, the customer must be a member who may use features (not a viewer); the
    /// workspace's shared pool is drawn on when its plan pools quotas, else the customer's own.
    public func consume(
        customerId: String, featureId: String, amount: Int64, idempotencyKey: String, workspaceId: String? = nil
    ) async throws -> UsageOutcome {
        let prepared = try await prepare(
            ConsumeRequest(
                customerId: customerId, featureId: featureId, amount: amount, idempotencyKey: idempotencyKey,
                workspaceId: workspaceId
            ))
        let (target, quota, key, scope, fingerprint) = (
            prepared.target, prepared.target.quota, prepared.key, prepared.scope, prepared.fingerprint
        )
        return try await gate.run(
            scope: scope, key: idempotencyKey, fingerprint: fingerprint,
            lookup: { try await store.idempotencyRecord(scope: scope, key: idempotencyKey) },
            body: {
                if isDecidedAcrossNodes(quota, subject: target.subject) {
                    // A spend cap spans features and nodes: decided inside the database.
                    return try await consumeUnderCapAcrossNodes(
                        target: target, key: key, customerId: customerId, amount: amount, scope: scope,
                        idempotencyKey: idempotencyKey,
                        fingerprint: fingerprint
                    )
                }
                // From this node's lease when several nodes share the counter, else from memory.
                let outcome: UsageOutcome
                let undo: @Sendable () -> Void, settle: @Sendable () -> Void
                let leaseNode: String?
                if let leases, let limit = leasedLimit(quota) {
                    outcome = try await consumeFromLease(
                        leases, key: key, target: target, customerId: customerId, amount: amount, limit: limit)
                    (undo, settle, leaseNode) = (
                        { leases.giveBack(key, amount: amount) }, { leases.settle(key, amount: amount) }, leases.node
                    )
                } else {
                    try await counters.ensureLoaded(key, windowEnd: quota.window?.end) {
                        try await store.counterValue(key)
                    }
                    outcome = try await decideAndCount(key: key, target: target, customerId: customerId, amount: amount)
                    (undo, settle, leaseNode) = ({ [counters] in counters.update(key) { $0 -= amount } }, {}, nil)
                }
                // A refusal is not recorded: a retry after an upgrade should be able to succeed.
                guard outcome.allowed else { return .refusal(outcome) }
                if let cost = quota.feature.creditCost, let credits {
                    // Paid in credits too: debited under the same idempotency key, so a retry after a
                    // failed count never charges twice. Not enough credits undoes the count.
                    do {
                        _ = try await credits.debit(
                            customerId: target.subjectId, amount: cost.amount * amount, creditType: cost.creditType,
                            reference: "\(featureId):\(idempotencyKey)",
                            idempotencyKey: "consume:\(customerId):\(idempotencyKey)"
                        )
                    } catch let error as DomainError where error.code == .insufficientCredits {
                        undo()
                        var refused = outcome
                        refused.allowed = false
                        refused.used -= amount
                        refused.remaining = refused.limit.map { max(0, $0 - refused.used) }
                        refused.reason = .insufficientCredits
                        return .refusal(refused)
                    } catch {
                        undo()
                        throw error
                    }
                }
                return try await commit(
                    key: key, quota: quota, delta: amount, scope: scope,
                    idempotencyKey: idempotencyKey, fingerprint: fingerprint, outcome: outcome,
                    leaseNode: leaseNode, undo: undo, settle: settle)
            }
        )
    }

    /// A consume checked and resolved: what it draws on and how its key is scoped.
    struct PreparedConsume {
        let target: Target
        let key: CounterKey
        let scope: String
        let fingerprint: String
    }

    func prepare(_ request: ConsumeRequest) async throws -> PreparedConsume {
        try Self.validate(amount: request.amount)
        let target = try await resolve(
            customerId: request.customerId, featureId: request.featureId, workspaceId: request.workspaceId)
        guard let window = target.quota.window else {
            throw DomainError.invalidField(
                "feature", "\(request.featureId) is a boolean feature: check it, there is nothing to consume")
        }
        return PreparedConsume(
            target: target, key: counterKey(subjectId: target.subjectId, featureId: request.featureId, window: window),
            scope: "consume:\(request.customerId)",
            fingerprint: "\(request.featureId)|\(request.amount)|\(request.workspaceId ?? "")"
        )
    }

    /// Decides under the counter's lock and counts what is allowed. Past the limit, a feature with
    /// an overage price continues: without bound, or, under a spend cap, while the whole
    /// period's overage (all features) stays within the cap.
    func decideAndCount(key: CounterKey, target: Target, customerId: String, amount: Int64) async throws -> UsageOutcome
    {
        let (plan, quota) = (target.plan, target.quota)
        func count(allowance: Int64?) -> UsageOutcome {
            counters.update(key) { used -> UsageOutcome in
                let decision = Entitlements.decide(
                    catalog: catalog, plan: plan, quota: quota, used: used, amount: amount,
                    exhaustedReason: target.exhaustedReason,
                    overageAllowance: allowance
                )
                if decision.allowed { used += amount }
                return self.outcome(
                    decision, customerId: customerId, feature: quota.feature.id, amount: amount, usedAfter: used,
                    overagePriced: quota.overage != nil)
            }
        }
        guard let price = quota.overage, let cap = target.subject.spendCap else { return count(allowance: nil) }
        let others = otherOverageCounters(target)
        for (otherKey, otherQuota) in others {
            try await counters.ensureLoaded(otherKey, windowEnd: otherQuota.window?.end) {
                try await store.counterValue(otherKey)
            }
        }
        return cappedOverage.withLock { _ in
            count(allowance: Self.overageAllowance(price: price, cap: cap, others: others) { counters.value($0) ?? 0 })
        }
    }

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
                    let outcome = self.outcome(
                        decision, customerId: customerId, feature: featureId, amount: released, usedAfter: used)
                    return (
                        released,
                        UsageOutcome(
                            allowed: true, customer: outcome.customer, feature: outcome.feature, amount: released,
                            limit: outcome.limit,
                            used: used, remaining: outcome.remaining, resetsAt: outcome.resetsAt, reason: nil,
                            upgradeTier: nil
                        )
                    )
                }
                return try await commit(
                    key: key, quota: quota, delta: -released, scope: scope,
                    idempotencyKey: idempotencyKey, fingerprint: "\(featureId)|\(amount)", outcome: outcome,
                    leaseNode: nil, undo: { [counters] in counters.update(key) { $0 += released } }, settle: {})
            }
        )
    }

    public func usageHistory(customerId: String, from: Date, to: Date) async throws -> [UsageRow] {
        _ = try await customer(id: customerId)
        return try await store.usageHistory(subject: Self.subject(customerId), from: from, to: to)
    }

    // MARK: Internals

    func commit(
        key: CounterKey, quota: Quota, delta: Int64, scope: String, idempotencyKey: String, fingerprint: String,
        outcome: UsageOutcome,
        leaseNode: String?, undo: () -> Void, settle: () -> Void
    ) async throws -> IdempotencyGate.Answer {
        let entry = usageEntry(
            key: key, quota: quota, delta: delta, scope: scope, idempotencyKey: idempotencyKey,
            fingerprint: fingerprint, outcome: outcome, leaseNode: leaseNode
        )
        do {
            guard try await committer.submit([entry])[0] else {
                // The key was answered before: this change was not applied; replay that answer.
                undo()
                return .alreadyAnswered
            }
            settle()
            return .outcome(outcome)
        } catch {
            // Not durable, so not counted: undo the in-memory change and fail the caller.
            undo()
            throw error
        }
    }

    /// What a committed change writes: the counter delta and the idempotency record whose
    /// stored answer a retry replays.
    func usageEntry(
        key: CounterKey, quota: Quota, delta: Int64, scope: String, idempotencyKey: String, fingerprint: String,
        outcome: UsageOutcome,
        leaseNode: String?
    ) -> UsageEntry {
        let response = outcome.compactRecord ?? outcome.storedJSON
        let record = IdempotencyRecord(
            scope: scope, key: idempotencyKey, fingerprint: fingerprint, response: response, createdAt: clock.now())
        return UsageEntry(
            deltas: [counterDelta(key: key, quota: quota, delta: delta, leaseNode: leaseNode)], record: record)
    }

    func counterDelta(key: CounterKey, quota: Quota, delta: Int64, leaseNode: String?) -> CounterDelta {
        CounterDelta(
            key: key, period: (quota.period ?? .lifetime).rawValue, periodEndMillis: quota.window?.end.map(Millis.from),
            delta: delta, leaseNode: leaseNode)
    }

    /// Whose quota a request draws on, under which plan, and what a refusal is called.
    struct Target {
        let subject: CustomerRecord
        var subjectId: String { subject.id }
        let plan: Plan
        let quota: Quota
        let exhaustedReason: DenialReason
    }

    private func resolve(customerId: String, featureId: String, workspaceId: String?) async throws -> Target {
        guard let feature = catalog.feature(featureId) else {
            throw DomainError(
                .featureNotFound, "no feature \(featureId) in catalog \(catalog.product)", field: "feature")
        }
        let customer = try await customer(id: customerId)
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
            let workspace = try await self.customer(id: workspaceId)
            if plan(of: workspace).workspacePools {
                subject = workspace
                reason = .workspaceQuotaExhausted
            }
        }
        let plan = plan(of: subject)
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

    static func subject(_ customerId: String) -> String { "customer:\(customerId)" }

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
