import Foundation
import PropertyBased
import Testing

@testable import TollgateCore

@Suite struct UsageThresholdTests {
    @Test func thresholdsAreRoundedUpToWholeUnits() {
        #expect(UsageThresholds.units(percent: 80, of: 5) == 4)
        #expect(UsageThresholds.units(percent: 80, of: 10) == 8)
        #expect(UsageThresholds.units(percent: 80, of: 3) == 3, "2.4 units: the warning comes at the third")
        #expect(UsageThresholds.units(percent: 100, of: 7) == 7)
        #expect(UsageThresholds.units(percent: 80, of: .max) == .max / 100 * 80 + (.max % 100 * 80 + 99) / 100)
        #expect(UsageThresholds.crossed(percents: [80, 100], limit: 10, before: 7, after: 10) == [80, 100])
        #expect(UsageThresholds.crossed(percents: [80, 100], limit: 10, before: 8, after: 9) == [])
        #expect(UsageThresholds.crossed(percents: [80, 100], limit: 0, before: 0, after: 1) == [])
        #expect(UsageThresholds.crossed(percents: [80, 100], limit: 10, before: 10, after: 8) == [], "a release")
        #expect(UsageThresholds.eventType(percent: 80) == "usage.threshold_reached")
        #expect(UsageThresholds.eventType(percent: 100) == "usage.limit_reached")
    }

    /// However usage grows, one consume at a time by any amounts, every threshold it passes is
    /// crossed exactly once, and none it does not reach.
    @Test func growingUsageCrossesEachReachedThresholdOnce() async {
        await propertyCheck(
            count: 500, input: Gen.int64(in: 1...300), Gen.int64(in: 1...40).array(of: 1...60),
            Gen.int(in: 1...100).array(of: 1...4)
        ) { limit, amounts, percents in
            let percents = Array(Set(percents)).sorted()
            var used: Int64 = 0
            var crossings: [Int] = []
            for amount in amounts {
                crossings += UsageThresholds.crossed(
                    percents: percents, limit: limit, before: used, after: used + amount)
                used += amount
            }
            let reached = percents.filter { UsageThresholds.units(percent: $0, of: limit) <= used }
            #expect(crossings.sorted() == reached)
        }
    }

    @Test func webhookRetriesFollowTheStandardWebhooksSchedule() {
        let schedule = RetrySchedule.webhooks
        let waits = (1...8).map { schedule.delay(afterAttempt: $0, random: 0.5) }
        #expect(waits == [5, 300, 1800, 7200, 18_000, 36_000, 36_000, nil])
        #expect(schedule.delay(afterAttempt: 2, random: 0)! == 270, "jitter of 10 %")
    }

    @Test func meteredFeaturesAlertAt80And100PercentUnlessTheCatalogSaysOtherwise() throws {
        let catalog = try CatalogLoader.load(
            yaml: """
                product: alerts
                defaultPlan: free
                features:
                  calls: { type: metered, name: Calls }
                  images: { type: metered, name: Images, alerts: [50, 90, 100] }
                  quiet: { type: metered, name: Quiet, alerts: [] }
                  notes: { type: limit, name: Notes }
                plans:
                  - id: free
                    name: Free
                    order: 0
                    features: { calls: { limit: 10, period: monthly }, notes: 3 }
                """)
        #expect(catalog.feature("calls")?.alertPercents == [80, 100])
        #expect(catalog.feature("images")?.alertPercents == [50, 90, 100])
        #expect(catalog.feature("quiet")?.alertPercents == [])
        #expect(catalog.feature("notes")?.alertPercents == [])
        let error = #expect(throws: CatalogError.self) {
            try CatalogLoader.load(
                yaml: """
                    product: alerts
                    defaultPlan: free
                    features: { calls: { type: metered, name: Calls, alerts: [80, 120] } }
                    plans: [{ id: free, name: Free, order: 0, features: {} }]
                    """)
        }
        #expect(error?.issues.map(\.path) == ["features.calls.alerts[1]"])
    }
}
