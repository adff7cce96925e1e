import Foundation
import Logging
import Synchronization
import TollgateCore
import TollgateStorage

/// The customers the meter decides for: creating them, their plan, what they bought with it
/// (add-ons, seats), their spend cap, and a bounded cache of the records read recently.
public final class CustomerDirectory: Sendable {
    public let catalog: Catalog
    let store: any CustomerStore & TransactionalStorage
    let clock: any TollgateClock
    private let logger: Logger
    /// Customers read recently, at most `capacity` (least recently used dropped).
    private let cache: Mutex<LRUCache<String, CustomerRecord>>

    public init(
        catalog: Catalog, store: any CustomerStore & TransactionalStorage, clock: any TollgateClock, logger: Logger,
        capacity: Int = 100_000
    ) {
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.logger = logger
        cache = Mutex(LRUCache(capacity: capacity))
    }

    /// Creates the customer on the catalog's default plan. Returns the stored record and whether
    /// it was created now; an existing id with other data is a conflict.
    public func createCustomer(id: String, email: String?, name: String?, locale: String? = nil) async throws -> (
        CustomerRecord, created: Bool
    ) {
        let now = clock.now()
        var record = CustomerRecord(
            id: id, email: email, name: try DisplayName.validated(optional: name, maximum: 1024),
            planId: catalog.defaultPlanId, billingAnchor: now, createdAt: now,
            updatedAt: now
        )
        record.locale = locale
        let new = record
        let creation = try await store.transaction { tx in
            let creation = try await tx.createCustomer(new)
            if case .created(let created) = creation {
                try await Audit.record(
                    AuditChange("customer.created", target: Self.target(id), after: ["plan": created.planId]), in: tx)
            }
            return creation
        }
        switch creation {
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
        if let cached = cache.withLock({ $0.get(id) }) { return cached }
        guard let stored = try await store.customer(id: id) else {
            throw Self.notFound(id)
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
        let now = clock.now()
        let updated = try await store.transaction { tx in
            guard let before = try await tx.customer(id: customerId) else { throw Self.notFound(customerId) }
            var updated = before
            if updated.planId != planId {
                guard let moved = try await tx.changePlan(customerId: customerId, planId: planId, at: now) else {
                    throw Self.notFound(customerId)
                }
                updated = moved
            }
            if let purchases {
                guard
                    let bought = try await tx.setAddOns(
                        customerId: customerId, addOns: purchases.addOns.filter { $0.value > 0 },
                        seats: purchases.seats, at: now)
                else { throw Self.notFound(customerId) }
                updated = bought
            }
            try await Audit.record(
                AuditChange(
                    "customer.plan_changed", target: Self.target(customerId), before: AuditedPlan(before),
                    after: AuditedPlan(updated)), in: tx)
            return updated
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

    /// Sets (or removes) the cap on what one period's overage may cost the customer.
    public func setSpendCap(customerId: String, cap: Money?) async throws -> CustomerRecord {
        let now = clock.now()
        let updated = try await store.transaction { tx in
            guard let before = try await tx.customer(id: customerId),
                let updated = try await tx.setSpendCap(customerId: customerId, cap: cap, at: now)
            else { throw Self.notFound(customerId) }
            try await Audit.record(
                AuditChange(
                    cap == nil ? "customer.spend_cap_removed" : "customer.spend_cap_set",
                    target: Self.target(customerId), before: ["spendCap": before.spendCap.map(AuditedMoney.init)],
                    after: ["spendCap": updated.spendCap.map(AuditedMoney.init)]), in: tx)
            return updated
        }
        remember(updated)
        return updated
    }

    static func target(_ id: String) -> String { "customer:\(id)" }

    /// The plan a customer is decided under.
    func plan(of customer: CustomerRecord) -> Plan {
        if let plan = catalog.plan(customer.planId) { return plan }
        // A plan removed from the catalog must not lock the customer out: they fall back to the default.
        logger.warning("customer \(customer.id) is on plan \(customer.planId), which the catalog no longer has")
        return catalog.defaultPlan
    }

    // MARK: The cache

    /// Customers held in the cache now.
    public var cached: Int { cache.withLock { $0.count } }
    /// Entries, and lookups that found or missed their customer, since start.
    public var cacheStatistics: (entries: Int, hits: Int, misses: Int) {
        cache.withLock { ($0.count, $0.hits, $0.misses) }
    }

    /// Drops a cached customer after a change made elsewhere, so the next read is the stored one.
    func forget(customerId: String) {
        _ = cache.withLock { $0.removeValue(forKey: customerId) }
    }

    /// Drops every cached customer.
    func forgetAll() {
        cache.withLock { $0.removeAll() }
    }

    func remember(_ customer: CustomerRecord) {
        cache.withLock { _ = $0.set(customer.id, customer) }
    }

    static func notFound(_ id: String) -> DomainError {
        DomainError(.customerNotFound, "no customer with id \(id)", field: "customer")
    }
}

/// A customer's plan as the audit trail records its changes.
struct AuditedPlan: Encodable {
    let plan: String
    let addOns: [String: Int]
    let seats: Int?

    init(_ customer: CustomerRecord) {
        plan = customer.planId
        addOns = customer.addOns
        seats = customer.seats
    }
}

/// An amount as the audit trail records it, as the API writes it.
struct AuditedMoney: Encodable {
    let amount: Int64
    let currency: String

    init(_ money: Money) {
        amount = money.amountMinor
        currency = money.currency.code
    }
}
