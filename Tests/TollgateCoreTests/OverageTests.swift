import Foundation
import PropertyBased
import Testing

@testable import TollgateCore

@Suite struct OverageTests {
    let eur = Currency("EUR")!
    /// 0.50 per started 1,000 calls.
    let calls = OveragePrice(per: 1000, unitAmounts: [Currency("EUR")!: 50])

    @Test func overageIsSoldInWholePackages() {
        #expect(OverageMath.cost(units: 0, price: calls, currency: eur) == 0)
        #expect(OverageMath.cost(units: 1, price: calls, currency: eur) == 50)
        #expect(OverageMath.cost(units: 1000, price: calls, currency: eur) == 50)
        #expect(OverageMath.cost(units: 1001, price: calls, currency: eur) == 100)
        #expect(OverageMath.cost(units: 5, price: calls, currency: Currency("USD")!) == nil, "no USD price")
        #expect(OverageMath.allowance(budget: 149, price: calls, currency: eur) == 2000)
        #expect(OverageMath.allowance(budget: 0, price: calls, currency: eur) == 0)
        #expect(OverageMath.allowance(budget: -5, price: calls, currency: eur) == 0)
        #expect(OverageMath.allowance(budget: 100, price: calls, currency: Currency("USD")!) == 0)
        #expect(
            OverageMath.allowance(budget: 100, price: OveragePrice(per: 1, unitAmounts: [eur: 0]), currency: eur)
                == nil, "free: no bound")
    }

    /// The allowance is exactly the most units whose cost fits the budget.
    @Test func theAllowanceIsTheLargestAffordableUsage() async {
        await propertyCheck(
            count: 500, input: Gen.int64(in: 0...100_000), Gen.int64(in: 1...5000), Gen.int64(in: 1...500)
        ) { budget, per, unit in
            let price = OveragePrice(per: per, unitAmounts: [eur: unit])
            let allowed = OverageMath.allowance(budget: budget, price: price, currency: eur)!
            #expect(OverageMath.cost(units: allowed, price: price, currency: eur)! <= budget)
            #expect(OverageMath.cost(units: allowed + 1, price: price, currency: eur)! > budget)
        }
    }

    @Test func aMeteredFeatureWithAnOveragePriceContinuesPastItsQuota() throws {
        let catalog = try CatalogLoader.load(
            yaml: """
                product: t
                name: T
                defaultPlan: pro
                features:
                  calls: { type: metered, unit: call }
                plans:
                  - id: pro
                    name: Pro
                    order: 0
                    features:
                      calls: { limit: 100, period: billing_cycle, overage: { per: 10, unitAmounts: { EUR: 5 } } }
                """)
        let plan = catalog.plan("pro")!
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let quota = Entitlements.quota(
            catalog: catalog, plan: plan, feature: catalog.feature("calls")!, now: now, anchor: now)
        let within = Entitlements.decide(catalog: catalog, plan: plan, quota: quota, used: 90, amount: 10)
        #expect(within.allowed && within.overage == 0)
        let beyond = Entitlements.decide(catalog: catalog, plan: plan, quota: quota, used: 95, amount: 10)
        #expect(beyond.allowed && beyond.overage == 5 && beyond.remaining == 5)
        let capped = Entitlements.decide(
            catalog: catalog, plan: plan, quota: quota, used: 120, amount: 10, overageAllowance: 25)
        #expect(!capped.allowed && capped.reason == .userQuotaExhausted)
        #expect(
            Entitlements.decide(catalog: catalog, plan: plan, quota: quota, used: 120, amount: 5, overageAllowance: 25)
                .allowed)

        let line = try #require(Invoicing.overageLine(quota: quota, used: 121, currency: eur))
        #expect(
            line.kind == .overage && line.quantity == 3 && line.unitAmount == 5 && line.amount == 15
                && line.feature == "calls")
        #expect(Invoicing.overageLine(quota: quota, used: 100, currency: eur) == nil)
    }
}

@Suite struct RetryScheduleTests {
    @Test func delaysDoubleUpToTheCapWithinTheJitterAndStopAfterTheLastAttempt() {
        let schedule = RetrySchedule(base: 30, maximumDelay: 600, maximumAttempts: 7, jitter: 0.2)
        #expect(schedule.delay(afterAttempt: 1, random: 0.5) == 30)
        #expect(schedule.delay(afterAttempt: 2, random: 0.5) == 60)
        #expect(schedule.delay(afterAttempt: 5, random: 0.5) == 480)
        #expect(schedule.delay(afterAttempt: 6, random: 0.5) == 600, "capped")
        #expect(schedule.delay(afterAttempt: 7, random: 0.5) == nil, "the last attempt")
        #expect(
            schedule.delay(afterAttempt: 1, random: 0) == 24 && schedule.delay(afterAttempt: 1, random: 0.999)! < 36)
    }
}
