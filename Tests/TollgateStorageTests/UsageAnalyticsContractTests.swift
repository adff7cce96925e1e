import Foundation
import PropertyBased
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

/// The usage report's figures, which the database computes from the month's
/// distribution (a calendar month) or in SQL from the daily rollup (any other window), equal those
/// the pure `UsageReport.figures` computes from the consumes themselves — for random consumes,
/// refusals and days, on SQLite and PostgreSQL.
@Suite struct UsageAnalyticsContractTests {
    static let day = Fixtures.utc(2026, 3, 1)

    @Test(arguments: TestDatabase.all)
    func theDatabasesFiguresAreThePureOnes(database: TestDatabase) async throws {
        let consumes = zip(
            Gen.int(in: 0...11), Gen.int(in: 0...2), Gen.int(in: 0...3), Gen.int(in: 0...40), Gen.int(in: 0...6)
        ).array(of: 1...120)
        let upgrades = zip(Gen.int(in: 0...11), Gen.int(in: 0...40), Gen.int(in: 0...3)).array(of: 0...10)
        await propertyCheck(count: 12, input: zip(consumes, upgrades)) { consumes, upgrades in
            do {
                try await database.withStore { store, _ in
                    for customer in 0...11 {
                        _ = try await store.createCustomer(
                            CustomerRecord(
                                id: "c\(customer)", email: nil, name: nil, planId: "basic",
                                billingAnchor: Self.day.addingTimeInterval(-86_400),
                                createdAt: Self.day.addingTimeInterval(-86_400),
                                updatedAt: Self.day.addingTimeInterval(-86_400)))
                    }
                    // Plan changes now and then, some within 14 days of a prompt, some after.
                    for (customer, day, plan) in upgrades.sorted(by: { $0.1 < $1.1 }) {
                        _ = try await store.changePlan(
                            customerId: "c\(customer)", planId: ["basic", "pro", "business", "enterprise"][plan],
                            at: Self.day.addingTimeInterval(Double(day) * 86_400 + 43_200))
                    }
                    let reasons: [DenialReason?] = [
                        nil, nil, nil, .userQuotaExhausted, .tierLimited, .insufficientCredits,
                        .workspaceQuotaExhausted,
                    ]
                    var totals: [UsageReport.Totals] = []
                    for (index, (customer, feature, plan, units, outcome)) in consumes.enumerated() {
                        let refusal = reasons[outcome]
                        let fact = UsageFact(
                            customerId: "c\(customer)", feature: ["chat", "search", "notes"][feature],
                            planId: ["basic", "pro", "business", "enterprise"][plan],
                            units: refusal == nil ? Int64(units + 1) : 0, refusal: refusal,
                            upgradeTier: refusal == .userQuotaExhausted ? "business" : nil)
                        // Spread over days of March, one commit each.
                        let at = Self.day.addingTimeInterval(Double(index % 20) * 86_400 + Double(index))
                        _ = try await store.commit(
                            UsageBatch(entries: [UsageEntry(deltas: [], record: nil, fact: fact)], at: at))
                        totals.append(
                            UsageReport.Totals(
                                customerId: fact.customerId, feature: fact.feature, planId: fact.planId,
                                outcome: fact.outcome, units: fact.units, events: 1,
                                firstUpgradePromptAt: fact.upgradeTier == nil ? nil : at))
                    }
                    let (from, to) = (Self.day, Self.day.addingTimeInterval(31 * 86_400))
                    let order = { (a: UsageReport.Figures, b: UsageReport.Figures) in
                        (a.feature, a.planId) < (b.feature, b.planId)
                    }
                    // March whole: from the month's distribution.
                    let expected = UsageReport.figures(totals).sorted(by: order)
                    #expect(try await store.usageFigures(from: from, to: to).sorted(by: order) == expected)
                    // Ten days of it: from the daily rollup.
                    let tenDays = from.addingTimeInterval(10 * 86_400)
                    let early = UsageReport.figures(totals.enumerated().filter { $0.offset % 20 < 10 }.map(\.element))
                    #expect(
                        try await store.usageFigures(from: from, to: tenDays).sorted(by: order)
                            == early.sorted(by: order))
                    let prompts = try await store.upgradePrompts(from: from, to: to)
                    let expectedPrompts = Dictionary(grouping: totals.filter { $0.firstUpgradePromptAt != nil }) {
                        "\($0.customerId)/\($0.feature)/\($0.planId)"
                    }.mapValues { $0.compactMap(\.firstUpgradePromptAt).min()! }
                    #expect(
                        Dictionary(
                            uniqueKeysWithValues: prompts.map { ("\($0.customerId)/\($0.feature)/\($0.planId)", $0.at) }
                        )
                            == expectedPrompts)
                    let ladder = ["basic": 0, "pro": 1, "business": 2, "enterprise": 3]
                    let conversionOrder = { (a: UsageReport.Conversion, b: UsageReport.Conversion) in
                        (a.feature, a.planId) < (b.feature, b.planId)
                    }
                    let expectedConversions = UsageReport.conversions(
                        prompts, changes: try await store.customerStates(before: .distantFuture), ladder: ladder)
                    #expect(
                        try await store.upgradeConversions(from: from, to: to, ladder: ladder).sorted(
                            by: conversionOrder) == expectedConversions.sorted(by: conversionOrder))
                }
            } catch {
                Issue.record(error)
            }
        }
    }

    /// Folds racing each other (two nodes, or a node and a read) fold each fact once.
    @Test(arguments: TestDatabase.all)
    func concurrentFoldsCountEachFactOnce(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            for index in 0..<30 {
                let fact = UsageFact(customerId: "c\(index % 4)", feature: "chat", planId: "pro", units: 2)
                _ = try await store.commit(
                    UsageBatch(
                        entries: [UsageEntry(deltas: [], record: nil, fact: fact)],
                        at: Self.day.addingTimeInterval(Double(index) * 3600)))
            }
            async let first = store.foldUsageFacts()
            async let second = store.foldUsageFacts()
            #expect(try await first + second == 30, "every fact folded, once")
            #expect(try await store.foldUsageFacts() == 0, "nothing left")
            let figures = try await store.usageFigures(from: Self.day, to: Self.day.addingTimeInterval(31 * 86_400))
            #expect(figures.map(\.totalUsage) == [60] && figures.map(\.activeCustomers) == [4])
        }
    }
}
