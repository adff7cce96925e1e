import Foundation

public enum SubscriptionStatus: String, Sendable, Codable, CaseIterable {
    case trialing
    case active
    case pastDue = "past_due"
    case canceled
    /// Ended without payment (a trial without a card, or a grace period that ran out).
    case inactive
}

/// A subscription of a customer or a workspace to a paid plan. Pure value: providers move it
/// only through `apply`, and entitlements read `entitledPlan(at:)`.
public struct Subscription: Sendable, Hashable {
    public var id: String
    /// The customer (or workspace) billed.
    public var subject: String
    public var planId: String
    public var interval: BillingInterval
    public var currency: Currency
    public var seats: Int?
    public var status: SubscriptionStatus
    public var currentPeriodStart: Date
    public var currentPeriodEnd: Date
    public var trialEnd: Date?
    public var cancelAtPeriodEnd: Bool
    public var canceledAt: Date?
    public var pastDueSince: Date?
    /// A downgrade waiting for the end of the period.
    public var pendingPlanId: String?
    public var hasPaymentMethod: Bool
    /// Add-ons bought with the subscription (as subscription items), by catalog id: quantity.
    public var addOns: [String: Int]

    /// Still running: trialing, active, or past due (in or out of its grace period).
    public var isLive: Bool { [.trialing, .active, .pastDue].contains(status) }

    public init(
        id: String, subject: String, planId: String, interval: BillingInterval, currency: Currency, seats: Int? = nil,
        status: SubscriptionStatus, currentPeriodStart: Date, currentPeriodEnd: Date, trialEnd: Date? = nil,
        cancelAtPeriodEnd: Bool = false, canceledAt: Date? = nil, pastDueSince: Date? = nil,
        pendingPlanId: String? = nil,
        hasPaymentMethod: Bool, addOns: [String: Int] = [:]
    ) {
        self.addOns = addOns
        self.id = id
        self.subject = subject
        self.planId = planId
        self.interval = interval
        self.currency = currency
        self.seats = seats
        self.status = status
        self.currentPeriodStart = currentPeriodStart
        self.currentPeriodEnd = currentPeriodEnd
        self.trialEnd = trialEnd
        self.cancelAtPeriodEnd = cancelAtPeriodEnd
        self.canceledAt = canceledAt
        self.pastDueSince = pastDueSince
        self.pendingPlanId = pendingPlanId
        self.hasPaymentMethod = hasPaymentMethod
    }
}

public struct SubscriptionPolicy: Sendable {
    /// How long a past-due subscription keeps its entitlements.
    public var gracePeriod: TimeInterval = 7 * 86_400

    public init(gracePeriod: TimeInterval = 7 * 86_400) { self.gracePeriod = gracePeriod }
}

public enum SubscriptionEvent: Sendable, Hashable {
    /// Time passed: trials end, periods roll over, grace periods run out.
    case tick(Date)
    /// An invoice was paid; the subscription is current up to `periodEnd`.
    case paymentSucceeded(periodStart: Date, periodEnd: Date)
    case paymentFailed(at: Date)
    case paymentMethodAttached
    case cancel(atPeriodEnd: Bool, at: Date)
    /// Undoes a cancellation planned for the period's end.
    case resume
    case changePlan(to: String, at: Date)
    /// An operator gives a trialing subscription more time: the trial (and its period) ends later.
    case extendTrial(until: Date)
}

/// What a transition asks the billing side to do, in integer minor units.
public enum SubscriptionEffect: Sendable, Hashable {
    /// Charge (positive) or credit (negative) the difference for the rest of the period.
    case prorate(Money, fromPlan: String, toPlan: String)
    case planChanged(from: String, to: String)
    /// A trial ended by a change to a plan without one: the new period is owed in full, now.
    case chargePeriod(Money, plan: String, periodStart: Date, periodEnd: Date)
    case statusChanged(from: SubscriptionStatus, to: SubscriptionStatus)
}

public enum SubscriptionError: Error, Sendable, Equatable {
    case notAllowed(String)
    case unknownPlan(String)
    case noPrice(plan: String, interval: BillingInterval, currency: Currency)
    case contactSales(maximumSeats: Int)
}

/// The subscription lifecycle: trialing → active ⇄ past_due → inactive; cancel now or at period
/// end; upgrades at once with proration; downgrades at the end of the period.
public enum SubscriptionMachine {
    /// A new subscription, trialing when the plan has a trial and the subject never had one.
    public static func start(
        id: String, subject: String, plan: Plan, interval: BillingInterval, currency: Currency, seats: Int?,
        at now: Date, hasPaymentMethod: Bool, alreadyTrialed: Bool, calendar: Calendar = PeriodMath.utcCalendar
    ) throws(SubscriptionError) -> Subscription {
        guard let price = plan.prices.first(where: { $0.interval == interval && $0.currency == currency }) else {
            throw .noPrice(plan: plan.id, interval: interval, currency: currency)
        }
        _ = try amount(price, seats: seats)
        if let trial = plan.trial, !alreadyTrialed {
            if trial.requiresPaymentMethod && !hasPaymentMethod {
                throw .notAllowed("the \(plan.id) trial needs a payment method")
            }
            let end = now + TimeInterval(trial.days) * 86_400
            return Subscription(
                id: id, subject: subject, planId: plan.id, interval: interval, currency: currency, seats: seats,
                status: .trialing,
                currentPeriodStart: now, currentPeriodEnd: end, trialEnd: end, hasPaymentMethod: hasPaymentMethod
            )
        }
        guard hasPaymentMethod else { throw .notAllowed("a paid plan without a trial needs a payment method") }
        return Subscription(
            id: id, subject: subject, planId: plan.id, interval: interval, currency: currency, seats: seats,
            status: .active,
            currentPeriodStart: now, currentPeriodEnd: periodEnd(from: now, interval: interval, calendar: calendar),
            hasPaymentMethod: true
        )
    }

    private static func amount(_ price: Price, seats: Int?) throws(SubscriptionError) -> Money {
        do {
            return try Pricing.amount(for: price, seats: seats)
        } catch {
            switch error {
            case .contactSales(let maximum): throw .contactSales(maximumSeats: maximum)
            }
        }
    }

    public static func periodEnd(
        from start: Date, interval: BillingInterval, calendar: Calendar = PeriodMath.utcCalendar
    ) -> Date {
        calendar.date(byAdding: interval == .month ? .month : .year, value: 1, to: start)!
    }

    /// The plan the subject is entitled to now: the subscribed one while trialing, active, or
    /// past due within the grace period; otherwise the catalog's default.
    public static func entitledPlan(
        _ subscription: Subscription, at now: Date, policy: SubscriptionPolicy, defaultPlan: String
    ) -> String {
        switch subscription.status {
        case .trialing, .active:
            return subscription.planId
        case .pastDue:
            guard let since = subscription.pastDueSince else { return subscription.planId }
            return now < since + policy.gracePeriod ? subscription.planId : defaultPlan
        case .canceled, .inactive:
            return defaultPlan
        }
    }

    public static func apply(
        _ event: SubscriptionEvent, to subscription: Subscription, catalog: Catalog, policy: SubscriptionPolicy,
        calendar: Calendar = PeriodMath.utcCalendar
    ) throws(SubscriptionError) -> (Subscription, [SubscriptionEffect]) {
        var next = subscription
        var effects: [SubscriptionEffect] = []
        switch event {
        case .tick(let now):
            advance(&next, to: now, policy: policy, calendar: calendar)
        case .paymentSucceeded(let start, let end):
            guard next.status != .canceled else { break }
            next.status = .active
            next.pastDueSince = nil
            next.trialEnd = nil
            // Periods only move forward: a late, older event never rewinds a newer state.
            if end > next.currentPeriodEnd || subscription.status != .active {
                next.currentPeriodStart = start
                next.currentPeriodEnd = max(end, next.currentPeriodEnd)
            }
        case .paymentFailed(let at):
            guard next.status == .active || next.status == .trialing || next.status == .pastDue else { break }
            if next.status != .pastDue { next.pastDueSince = at }
            next.status = .pastDue
        case .paymentMethodAttached:
            next.hasPaymentMethod = true
        case .extendTrial(let until):
            guard next.status == .trialing, let trialEnd = next.trialEnd else {
                throw .notAllowed("only a trialing subscription's trial can be extended")
            }
            guard until > trialEnd else { throw .notAllowed("a trial can only be extended past its current end") }
            if next.currentPeriodEnd == trialEnd { next.currentPeriodEnd = until }
            next.trialEnd = until
        case .cancel(let atPeriodEnd, let at):
            guard next.status != .canceled && next.status != .inactive else {
                throw .notAllowed("the subscription has already ended")
            }
            // During a trial, the period's end is the trial's: the plan stays until then, as the
            // words promise and as Stripe does.
            if atPeriodEnd {
                next.cancelAtPeriodEnd = true
            } else {
                next.status = .canceled
                next.canceledAt = at
            }
        case .resume:
            guard next.cancelAtPeriodEnd, [.active, .pastDue, .trialing].contains(next.status) else {
                throw .notAllowed("only a subscription set to cancel at period end can resume")
            }
            next.cancelAtPeriodEnd = false
        case .changePlan(let target, let at):
            effects = try changePlan(&next, to: target, at: at, catalog: catalog, calendar: calendar)
        }
        if next.status != subscription.status {
            effects.append(.statusChanged(from: subscription.status, to: next.status))
        }
        return (next, effects)
    }

    /// Upgrades (a higher order on the ladder) apply now with a prorated charge; downgrades
    /// wait for the end of the period.
    private static func changePlan(
        _ subscription: inout Subscription, to target: String, at: Date, catalog: Catalog, calendar: Calendar
    ) throws(SubscriptionError) -> [SubscriptionEffect] {
        guard subscription.status == .active || subscription.status == .trialing || subscription.status == .pastDue
        else {
            throw .notAllowed("a \(subscription.status.rawValue) subscription cannot change plan; start a new one")
        }
        guard let current = catalog.plan(subscription.planId), let plan = catalog.plan(target) else {
            throw .unknownPlan(target)
        }
        guard plan.id != current.id else {
            subscription.pendingPlanId = nil
            return []
        }
        guard
            let newPrice = plan.prices.first(where: {
                $0.interval == subscription.interval && $0.currency == subscription.currency
            })
        else {
            throw .noPrice(plan: plan.id, interval: subscription.interval, currency: subscription.currency)
        }
        if plan.order < current.order {
            subscription.pendingPlanId = plan.id
            return []
        }
        let newAmount = try amount(newPrice, seats: subscription.seats)
        let oldPrice = current.prices.first {
            $0.interval == subscription.interval && $0.currency == subscription.currency
        }
        let oldAmount =
            try oldPrice.map { price throws(SubscriptionError) in try amount(price, seats: subscription.seats) }
            ?? Money(0, subscription.currency)
        subscription.planId = plan.id
        subscription.pendingPlanId = nil
        var effects: [SubscriptionEffect] = [.planChanged(from: current.id, to: plan.id)]
        // A trial is of its plan: a plan without one is paid from now, as Stripe ends a trial on
        // such a change (`trial_end=now`), never carried over for free.
        if subscription.status == .trialing && plan.trial == nil {
            subscription.status = .active
            subscription.trialEnd = nil
            subscription.currentPeriodStart = at
            subscription.currentPeriodEnd = periodEnd(from: at, interval: subscription.interval, calendar: calendar)
            effects.insert(
                .chargePeriod(
                    newAmount, plan: plan.id, periodStart: at, periodEnd: subscription.currentPeriodEnd), at: 0)
        } else if subscription.status != .trialing {
            // Out of a trial, the difference for the rest of the period (a trial carried over to
            // a plan with one has nothing to prorate).
            let charge = Pricing.proration(
                old: oldAmount.amountMinor, new: newAmount.amountMinor,
                periodStart: subscription.currentPeriodStart, periodEnd: subscription.currentPeriodEnd, at: at)
            effects.insert(.prorate(Money(charge, subscription.currency), fromPlan: current.id, toPlan: plan.id), at: 0)
        }
        return effects
    }

    /// Moves the subscription through time: trial end, period roll-overs, grace expiry.
    private static func advance(
        _ subscription: inout Subscription, to now: Date, policy: SubscriptionPolicy, calendar: Calendar
    ) {
        switch subscription.status {
        case .trialing:
            guard let trialEnd = subscription.trialEnd, now >= trialEnd else { return }
            if subscription.cancelAtPeriodEnd {
                subscription.status = .canceled
                subscription.canceledAt = trialEnd
            } else if subscription.hasPaymentMethod {
                // The first invoice is due now; its payment (or failure) moves the state on.
                subscription.status = .active
                subscription.trialEnd = nil
                subscription.currentPeriodStart = trialEnd
                subscription.currentPeriodEnd = periodEnd(
                    from: trialEnd, interval: subscription.interval, calendar: calendar)
                advance(&subscription, to: now, policy: policy, calendar: calendar)
            } else {
                // Back to the free plan, keeping their data.
                subscription.status = .inactive
                subscription.canceledAt = trialEnd
            }
        case .active, .pastDue:
            if subscription.status == .pastDue, let since = subscription.pastDueSince, now >= since + policy.gracePeriod
            {
                subscription.status = .inactive
                subscription.canceledAt = since + policy.gracePeriod
                return
            }
            while now >= subscription.currentPeriodEnd {
                if subscription.cancelAtPeriodEnd {
                    subscription.status = .canceled
                    subscription.canceledAt = subscription.currentPeriodEnd
                    return
                }
                if let pending = subscription.pendingPlanId {
                    subscription.planId = pending
                    subscription.pendingPlanId = nil
                }
                subscription.currentPeriodStart = subscription.currentPeriodEnd
                subscription.currentPeriodEnd = periodEnd(
                    from: subscription.currentPeriodStart, interval: subscription.interval, calendar: calendar)
            }
        case .canceled, .inactive:
            return
        }
    }
}
