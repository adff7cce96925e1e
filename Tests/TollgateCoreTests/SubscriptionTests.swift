import Foundation
import PropertyBased
import TestSupport
import Testing

@testable import TollgateCore

@Suite struct SubscriptionTests {
    let catalog: Catalog
    let eur = Currency("EUR")!
    let policy = SubscriptionPolicy()
    let start = Fixtures.utc(2026, 5, 1)

    init() throws { catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml")) }

    func subscribe(_ plan: String, card: Bool, trialed: Bool = false, seats: Int? = nil) throws -> Subscription {
        try SubscriptionMachine.start(
            id: "sub_1", subject: "c1", plan: catalog.plan(plan)!, interval: .month, currency: eur, seats: seats,
            at: start, hasPaymentMethod: card, alreadyTrialed: trialed)
    }

    func apply(_ event: SubscriptionEvent, _ subscription: Subscription) throws -> (Subscription, [SubscriptionEffect])
    {
        try SubscriptionMachine.apply(event, to: subscription, catalog: catalog, policy: policy)
    }

    func entitled(_ subscription: Subscription, at date: Date) -> String {
        SubscriptionMachine.entitledPlan(subscription, at: date, policy: policy, defaultPlan: "basic")
    }

    @Test func aProTrialWithoutACardEndsBackOnTheFreePlan() throws {
        let trial = try subscribe("pro", card: false)
        #expect(
            trial.status == .trialing && trial.trialEnd == start + 14 * 86_400 && entitled(trial, at: start) == "pro")
        let (ended, effects) = try apply(.tick(start + 14 * 86_400), trial)
        #expect(ended.status == .inactive && entitled(ended, at: start + 15 * 86_400) == "basic")
        #expect(effects == [.statusChanged(from: .trialing, to: .inactive)])
        // One trial per customer; Business has none and needs a card.
        #expect(try subscribe("pro", card: true, trialed: true).status == .active)
        #expect(throws: SubscriptionError.self) { try subscribe("pro", card: false, trialed: true) }
        #expect(throws: SubscriptionError.self) { try subscribe("business", card: false) }
    }

    @Test func anOperatorExtendsATrialAndTheEndMovesWithIt() throws {
        let trial = try subscribe("pro", card: false)
        let later = start + 21 * 86_400
        let (extended, effects) = try apply(.extendTrial(until: later), trial)
        #expect(extended.trialEnd == later && extended.currentPeriodEnd == later && effects.isEmpty)
        #expect(entitled(extended, at: start + 20 * 86_400) == "pro")
        let (ended, _) = try apply(.tick(later), extended)
        #expect(ended.status == .inactive)
        // Only forward, only a trial.
        #expect(throws: SubscriptionError.self) { try apply(.extendTrial(until: start + 86_400), trial) }
        #expect(throws: SubscriptionError.self) { try apply(.extendTrial(until: later), ended) }
        #expect(throws: SubscriptionError.self) {
            try apply(.extendTrial(until: later), try subscribe("pro", card: true, trialed: true))
        }
    }

    @Test func aTrialWithACardBecomesActiveThenPaymentsDriveIt() throws {
        var subscription = try subscribe("pro", card: false)
        subscription = try apply(.paymentMethodAttached, subscription).0
        subscription = try apply(.tick(start + 14 * 86_400 + 60), subscription).0
        #expect(subscription.status == .active && subscription.currentPeriodStart == start + 14 * 86_400)
        subscription = try apply(.paymentFailed(at: start + 15 * 86_400), subscription).0
        #expect(subscription.status == .pastDue && entitled(subscription, at: start + 21 * 86_400) == "pro")
        // Recovered within the grace period.
        let recovered = try apply(
            .paymentSucceeded(periodStart: subscription.currentPeriodStart, periodEnd: subscription.currentPeriodEnd),
            subscription
        ).0
        #expect(recovered.status == .active && recovered.pastDueSince == nil)
        // Or not: after 7 days the customer falls back to free.
        let lapsed = try apply(.tick(start + 22 * 86_400 + 1), subscription).0
        #expect(lapsed.status == .inactive && entitled(lapsed, at: start + 23 * 86_400) == "basic")
        #expect(
            entitled(subscription, at: start + 22 * 86_400 + 1) == "basic",
            "entitlements follow the grace period even before the tick")
    }

    @Test func cancellingAtPeriodEndKeepsThePlanUntilThenAndCanBeUndone() throws {
        var subscription = try subscribe("business", card: true)
        subscription = try apply(.cancel(atPeriodEnd: true, at: start + 86_400), subscription).0
        #expect(subscription.status == .active && subscription.cancelAtPeriodEnd)
        let resumed = try apply(.resume, subscription).0
        #expect(!resumed.cancelAtPeriodEnd)
        let ended = try apply(.tick(Fixtures.utc(2026, 6, 1)), subscription).0
        #expect(
            ended.status == .canceled && ended.canceledAt == Fixtures.utc(2026, 6, 1)
                && entitled(ended, at: Fixtures.utc(2026, 6, 2)) == "basic")
        #expect(throws: SubscriptionError.self) { try apply(.cancel(atPeriodEnd: false, at: start), ended) }
        let now = try apply(.cancel(atPeriodEnd: false, at: start + 3600), try subscribe("business", card: true)).0
        #expect(now.status == .canceled)
    }

    /// A trial canceled "at the end of the period" keeps its plan until the
    /// trial's end and then ends without a charge, even with a card; it can be taken back before.
    @Test func aTrialCanceledAtPeriodEndRunsToItsEndAndIsNotCharged() throws {
        let trial = try subscribe("pro", card: true)
        let trialEnd = start + 14 * 86_400
        let canceled = try apply(.cancel(atPeriodEnd: true, at: start + 86_400), trial).0
        #expect(canceled.status == .trialing && canceled.cancelAtPeriodEnd)
        #expect(entitled(canceled, at: trialEnd - 60) == "pro", "the plan stays until the trial ends")
        #expect(try apply(.resume, canceled).0.cancelAtPeriodEnd == false, "taken back during the trial")
        let (ended, effects) = try apply(.tick(trialEnd), canceled)
        #expect(ended.status == .canceled && ended.canceledAt == trialEnd)
        #expect(effects == [.statusChanged(from: .trialing, to: .canceled)], "no invoice: never active")
        #expect(entitled(ended, at: trialEnd + 60) == "basic")
        let now = try apply(.cancel(atPeriodEnd: false, at: start + 86_400), trial).0
        #expect(now.status == .canceled, "asked for now, it ends now")
    }

    /// A trial is of its plan. Moving from the Pro trial to Business (no trial)
    /// ends the trial and starts a paid period now, owed in full; it is not carried over.
    @Test func aTrialMovedToAPlanWithoutATrialEndsAndThePeriodIsOwed() throws {
        let trial = try subscribe("pro", card: false)
        let day3 = start + 3 * 86_400
        let (business, effects) = try apply(.changePlan(to: "business", at: day3), trial)
        #expect(business.planId == "business" && business.status == .active && business.trialEnd == nil)
        #expect(business.currentPeriodStart == day3 && business.currentPeriodEnd == Fixtures.utc(2026, 6, 4))
        #expect(
            effects == [
                .chargePeriod(
                    Money(2990, eur), plan: "business", periodStart: day3, periodEnd: Fixtures.utc(2026, 6, 4)),
                .planChanged(from: "pro", to: "business"), .statusChanged(from: .trialing, to: .active),
            ])
        #expect(entitled(business, at: start + 20 * 86_400) == "business", "past the old trial's end")
    }

    @Test func upgradesProrateNowAndDowngradesWaitForThePeriodEnd() throws {
        let pro = try subscribe("pro", card: true, trialed: true)
        // Halfway through May (31 days): (29.90 - 9.90) × 15.5 / 31 = 10.00.
        let halfway = start + 15.5 * 86_400
        let (business, effects) = try apply(.changePlan(to: "business", at: halfway), pro)
        #expect(business.planId == "business")
        #expect(effects.first == .prorate(Money(1000, eur), fromPlan: "pro", toPlan: "business"))
        let (later, none) = try apply(.changePlan(to: "pro", at: halfway + 60), business)
        #expect(later.planId == "business" && later.pendingPlanId == "pro" && none.isEmpty)
        let renewed = try apply(.tick(Fixtures.utc(2026, 6, 1)), later).0
        #expect(
            renewed.planId == "pro" && renewed.currentPeriodStart == Fixtures.utc(2026, 6, 1)
                && renewed.currentPeriodEnd == Fixtures.utc(2026, 7, 1))
    }

    @Test func enterpriseBillsItsSeatsWithAMinimumAndASoftCap() throws {
        let price = try #require(catalog.plan("enterprise")?.prices.first { $0.currency == eur })
        // Memento's Business: 20 users = 49.90 + 20 × 3.90 = 127.90 €.
        #expect(try Pricing.amount(for: price, seats: 20) == Money(12_790, eur))
        #expect(try Pricing.amount(for: price, seats: 5) == Money(12_790, eur), "20 seats billed at least")
        #expect(try Pricing.amount(for: price, seats: 100) == Money(43_990, eur))
        #expect(throws: Pricing.PricingError.contactSales(maximumSeats: 500)) {
            try Pricing.amount(for: price, seats: 501)
        }
        #expect(throws: SubscriptionError.contactSales(maximumSeats: 500)) {
            try subscribe("enterprise", card: true, seats: 600)
        }
    }

    @Test func lateEventsNeverRewindANewerState() throws {
        var subscription = try subscribe("pro", card: true, trialed: true)
        subscription = try apply(
            .paymentSucceeded(periodStart: Fixtures.utc(2026, 6, 1), periodEnd: Fixtures.utc(2026, 7, 1)), subscription
        ).0
        let stale = try apply(.paymentSucceeded(periodStart: start, periodEnd: Fixtures.utc(2026, 6, 1)), subscription)
            .0
        #expect(stale.currentPeriodEnd == Fixtures.utc(2026, 7, 1))
    }

    /// Prorations are bounded by the full difference, and going there and back is free.
    @Test func prorationIsBoundedAndSymmetric() async {
        await propertyCheck(
            count: 500, input: Gen.int64(in: 0...10_000_000), Gen.int64(in: 0...10_000_000), Gen.int(in: 0...2_678_400)
        ) { old, new, offset in
            let end = start + 2_678_400
            let at = start + TimeInterval(offset)
            let charge = Pricing.proration(old: old, new: new, periodStart: start, periodEnd: end, at: at)
            #expect(abs(charge) <= abs(new - old))
            #expect(charge == 0 || (charge > 0) == (new > old))
            #expect(charge + Pricing.proration(old: new, new: old, periodStart: start, periodEnd: end, at: at) == 0)
        }
        // 4611686018427387903 × 2 / 3, exactly: the 128-bit intermediate does not overflow.
        #expect(
            Pricing.proration(old: 0, new: Int64.max / 2, periodStart: start, periodEnd: start + 3, at: start + 1)
                == 3_074_457_345_618_258_602)
    }
}
