import Foundation
import Logging
import TollgateCore
import TollgateStore

/// The manual provider's side of subscriptions (trials, and time passing), for the embedded demo
/// and for customers invoiced by hand. Stripe subscriptions move through webhooks instead; here
/// they are only ever moved when a past-due grace period runs out.
public final class SubscriptionService: Sendable {
    private let catalog: Catalog
    private let store: any BillingStore & CustomerStore
    private let policy: SubscriptionPolicy
    private let clock: any TollgateClock
    private let logger: Logger
    private let planChanged: @Sendable (String) -> Void

    public init(
        catalog: Catalog, store: any BillingStore & CustomerStore, policy: SubscriptionPolicy = SubscriptionPolicy(),
        clock: any TollgateClock, logger: Logger, planChanged: @escaping @Sendable (String) -> Void
    ) {
        self.catalog = catalog
        self.store = store
        self.policy = policy
        self.clock = clock
        self.logger = logger
        self.planChanged = planChanged
    }

    /// Starts the plan's trial for the customer: once per customer, as the catalog says (Pro: 14
    /// days without a card; Business: none).
    public func startTrial(customerId: String, planId: String, interval: BillingInterval, currency: Currency) async throws -> Subscription {
        guard try await store.customer(id: customerId) != nil else {
            throw DomainError(.customerNotFound, "no customer with id \(customerId)", field: "customer")
        }
        guard let plan = catalog.plan(planId) else { throw DomainError(.planNotFound, "no plan \(planId) in catalog \(catalog.product)", field: "plan") }
        guard plan.trial != nil else { throw DomainError.invalidField("plan", "plan \(planId) has no trial") }
        let now = clock.now()
        let subscription: Subscription
        do {
            subscription = try SubscriptionMachine.start(
                id: "sub_manual_" + UUID().uuidString.lowercased().prefix(16), subject: customerId, plan: plan, interval: interval, currency: currency,
                seats: nil, at: now, hasPaymentMethod: false, alreadyTrialed: false
            )
        } catch {
            throw Self.domainError(error)
        }
        // The event id is the customer's: a second trial is a duplicate, refused atomically.
        let outcome = try await store.applySubscriptionEvent(
            provider: "manual", eventId: "trial:\(customerId)", type: "trial.started", version: now, subscription: subscription, now: now,
            entitledPlan: entitledPlan(now: now)
        )
        guard outcome == .applied else { throw DomainError(.conflict, "customer \(customerId) has already had a trial", field: "customer") }
        planChanged(customerId)
        return subscription
    }

    /// Moves every subscription whose deadline has passed; returns how many changed.
    @discardableResult
    public func tick() async throws -> Int {
        let now = clock.now()
        var changed = 0
        for (subscription, provider) in try await store.subscriptionsDue(now: now, grace: policy.gracePeriod) {
            // Stripe owns its subscriptions' periods; only our grace policy applies to them here.
            if provider == "stripe" {
                guard subscription.status == .pastDue, let since = subscription.pastDueSince, now >= since + policy.gracePeriod else { continue }
            }
            let (next, _) = try SubscriptionMachine.apply(.tick(now), to: subscription, catalog: catalog, policy: policy)
            guard next != subscription else { continue }
            let outcome = try await store.applySubscriptionEvent(
                provider: provider, eventId: "tick:\(subscription.id):\(Millis.from(now))", type: "subscription.tick", version: now,
                subscription: next, now: now, entitledPlan: entitledPlan(now: now)
            )
            if outcome == .applied {
                changed += 1
                planChanged(subscription.subject)
                logger.info("subscription \(subscription.id) moved from \(subscription.status.rawValue) to \(next.status.rawValue)")
            }
        }
        return changed
    }

    private func entitledPlan(now: Date) -> @Sendable ([Subscription]) -> String {
        Self.bestEntitledPlan(catalog: catalog, policy: policy, now: now)
    }

    /// The best plan (highest on the ladder) that any of a subject's subscriptions entitles it
    /// to at `now`; the catalog's default when none does.
    static func bestEntitledPlan(catalog: Catalog, policy: SubscriptionPolicy, now: Date) -> @Sendable ([Subscription]) -> String {
        { subscriptions in
            subscriptions.map { SubscriptionMachine.entitledPlan($0, at: now, policy: policy, defaultPlan: catalog.defaultPlanId) }
                .compactMap { catalog.plan($0) }.max { $0.order < $1.order }?.id ?? catalog.defaultPlanId
        }
    }

    static func domainError(_ error: SubscriptionError) -> DomainError {
        switch error {
        case .notAllowed(let message): return DomainError(.conflict, message)
        case .unknownPlan(let plan): return DomainError(.planNotFound, "no plan \(plan)", field: "plan")
        case .noPrice(let plan, let interval, let currency):
            return DomainError.invalidField("currency", "plan \(plan) has no \(interval.rawValue)ly \(currency) price")
        case .contactSales(let maximum): return DomainError.invalidField("seats", "beyond \(maximum) seats, contact sales")
        }
    }
}
