import Foundation
import PropertyBased
import Testing

@testable import TollgateCore

/// The pure computations behind the customer, usage and activity analytics.
@Suite struct ProductAnalyticsCoreTests {
    static func day(_ month: Int, _ day: Int, hour: Int = 12) -> Date {
        var components = DateComponents(year: 2026, month: month, day: day, hour: hour)
        components.timeZone = TimeZone(identifier: "UTC")
        return Calendar(identifier: .gregorian).date(from: components)!
    }

    @Test func aCustomersStatusIsItsBestLiveSubscription() {
        func subscription(_ status: SubscriptionStatus) -> Subscription {
            Subscription(
                id: UUID().uuidString, subject: "c", planId: "pro", interval: .month, currency: Currency("EUR")!,
                status: status, currentPeriodStart: Self.day(1, 1), currentPeriodEnd: Self.day(2, 1),
                hasPaymentMethod: true)
        }
        #expect(CustomerStatus.of([]) == .free)
        #expect(CustomerStatus.of([subscription(.canceled), subscription(.trialing)]) == .trialing)
        #expect(CustomerStatus.of([subscription(.pastDue), subscription(.active)]) == .active)
        #expect(CustomerStatus.of([subscription(.inactive)]) == .canceled, "a trial that ended unpaid")
    }

    @Test func customersByPlanStatusSignUpsAndConversion() {
        let states: [CustomerSeries.State] = [
            .init(customerId: "a", at: Self.day(1, 3), planId: "basic", status: .free),
            .init(customerId: "a", at: Self.day(2, 5), planId: "pro", status: .active),
            .init(customerId: "b", at: Self.day(1, 20), planId: "basic", status: .free),
            .init(customerId: "c", at: Self.day(2, 1), planId: "pro", status: .trialing),
            .init(customerId: "c", at: Self.day(2, 15), planId: "basic", status: .canceled),
            .init(customerId: "c", at: Self.day(3, 2), planId: "pro", status: .active),
        ]
        let report = CustomerSeries.compute(states, from: Self.day(1, 1), to: Self.day(3, 31), interval: .month)
        #expect(report.map(\.customers) == [2, 3, 3])
        #expect(report.map(\.signUps) == [2, 1, 0])
        #expect(report.map(\.freeToPaid) == [0, 1, 1], "a in February, c in March (a trial is not paying)")
        #expect(report[0].freeToPaidRate == 0 && report[1].freeToPaidRate == 1.0 / 3)
        #expect(report[2].freeToPaidRate == 0.5, "b and c had never paid on March 1st")
        #expect(
            report[1].byPlan == ["pro": 1, "basic": 2] && report[1].byStatus == [.active: 1, .free: 1, .canceled: 1])
    }

    @Test func usagePerFeatureAndPlan() {
        let prompt = Self.day(1, 10)
        let totals: [UsageReport.Totals] = [
            .init(
                customerId: "a", feature: "f", planId: "basic", outcome: "allowed", units: 10, events: 10,
                firstUpgradePromptAt: nil),
            .init(
                customerId: "a", feature: "f", planId: "basic", outcome: "USER_QUOTA_EXHAUSTED", units: 0,
                events: 4, firstUpgradePromptAt: prompt),
            .init(
                customerId: "b", feature: "f", planId: "basic", outcome: "allowed", units: 2, events: 2,
                firstUpgradePromptAt: nil),
            .init(
                customerId: "b", feature: "f", planId: "basic", outcome: "USER_QUOTA_EXHAUSTED", units: 0,
                events: 1, firstUpgradePromptAt: prompt),
            .init(
                customerId: "c", feature: "f", planId: "basic", outcome: "allowed", units: 5, events: 1,
                firstUpgradePromptAt: nil),
            .init(
                customerId: "a", feature: "f", planId: "pro", outcome: "allowed", units: 7, events: 7,
                firstUpgradePromptAt: nil),
        ]
        let changes: [CustomerSeries.State] = [
            // a upgrades 14 days to the second after its prompt: counted; b one second later: not.
            .init(customerId: "a", at: prompt.addingTimeInterval(14 * 86_400), planId: "pro", status: .active),
            .init(customerId: "b", at: prompt.addingTimeInterval(14 * 86_400 + 1), planId: "pro", status: .active),
        ]
        let rows = UsageReport.compute(totals, changes: changes, ladder: ["basic": 0, "pro": 1])
        #expect(rows.map(\.planId) == ["basic", "pro"])
        let basic = rows[0]
        #expect(basic.activeCustomers == 3 && basic.totalUsage == 17)
        #expect(basic.medianPerCustomer == 5 && basic.p90PerCustomer == 10)
        #expect(basic.customersAtLimit == 2 && basic.limitHitRate == 2.0 / 3)
        #expect(basic.refusals == ["USER_QUOTA_EXHAUSTED": 5])
        #expect(basic.upgradePrompts == 2 && basic.upgradedAfterPrompt == 1 && basic.limitToUpgradeRate == 0.5)
        #expect(rows[1].upgradePrompts == 0 && rows[1].limitToUpgradeRate == nil)
    }

    @Test func percentilesAreNearestRank() {
        #expect(UsageReport.percentile([], 50) == nil)
        #expect(UsageReport.percentile([7], 90) == 7)
        #expect(UsageReport.percentile([1, 2, 3, 4], 50) == 2 && UsageReport.percentile([1, 2, 3, 4], 90) == 4)
        #expect(UsageReport.percentile(Array(1...10), 90) == 9 && UsageReport.percentile(Array(1...10), 50) == 5)
    }

    /// Against a plain count: for every day, DAU, WAU and MAU are the distinct customers active in
    /// the 1, 7 and 30 days ending that day.
    @Test func activeUsersAgreeWithADirectCount() async {
        let visits = zip(Gen.int(in: 0...9), Gen.int(in: 0...70)).array(of: 0...60)
        await propertyCheck(count: 200, input: visits) { visits in
            let start = Self.day(1, 1, hour: 0)
            let active = visits.map {
                (customerId: "c\($0.0)", day: start.addingTimeInterval(Double($0.1) * 86_400 + 3600))
            }
            let from = start.addingTimeInterval(35 * 86_400)
            let days = ActivitySeries.days(active, from: from, to: from.addingTimeInterval(30 * 86_400))
            #expect(days.count == 30)
            for (index, day) in days.enumerated() {
                func count(_ window: Int) -> Int {
                    Set(visits.filter { (35 + index - window + 1...35 + index).contains($0.1) }.map(\.0)).count
                }
                #expect(day.dau == count(1) && day.wau == count(7) && day.mau == count(30))
                #expect(day.stickiness == (day.mau == 0 ? nil : Double(day.dau) / Double(day.mau)))
            }
        }
    }

    @Test func retentionCohortsBySignUpMonth() {
        let signUps = [("a", Self.day(1, 5)), ("b", Self.day(1, 31)), ("c", Self.day(2, 2))].map {
            (customerId: $0.0, at: $0.1)
        }
        let active = [("a", Self.day(1, 6)), ("a", Self.day(3, 1)), ("b", Self.day(2, 28)), ("c", Self.day(3, 9))].map {
            (customerId: $0.0, day: $0.1)
        }
        let cohorts = ActivitySeries.cohorts(
            signUps: signUps, active: active, from: Self.day(1, 1, hour: 0), to: Self.day(4, 1, hour: 0))
        #expect(cohorts.map(\.customers) == [2, 1, 0])
        #expect(cohorts[0].active == [1, 1, 1] && cohorts[0].retention == [0.5, 0.5, 0.5])
        #expect(cohorts[1].active == [0, 1] && cohorts[1].retention == [0, 1])
        #expect(cohorts[2].retention == [nil], "an empty cohort has no share")
    }
}
