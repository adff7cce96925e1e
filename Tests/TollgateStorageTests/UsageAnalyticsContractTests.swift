import Foundation
import PropertyBased
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

/// Issue 13: the usage report's figures, which the database computes in SQL from the daily
/// rollup, equal those the pure `UsageReport.figures` computes from the consumes themselves —
/// for random consumes, refusals and days, on SQLite and PostgreSQL.
@Suite struct UsageAnalyticsContractTests {
    static let day = Fixtures.utc(2026, 3, 1)

    @Test(arguments: TestDatabase.all)
    func theDatabasesFiguresAreThePureOnes(database: TestDatabase) async throws {
        let consumes = zip(
            Gen.int(in: 0...11), Gen.int(in: 0...2), Gen.int(in: 0...3), Gen.int(in: 0...40), Gen.int(in: 0...6)
        ).array(of: 1...120)
        await propertyCheck(count: 12, input: consumes) { consumes in
            do {
                try await database.withStore { store, _ in
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
                    let expected = UsageReport.figures(totals).sorted {
                        ($0.feature, $0.planId) < ($1.feature, $1.planId)
                    }
                    let figures = try await store.usageFigures(from: from, to: to).sorted {
                        ($0.feature, $0.planId) < ($1.feature, $1.planId)
                    }
                    #expect(figures == expected)
                    let prompts = try await store.upgradePrompts(from: from, to: to)
                    let expectedPrompts = Dictionary(grouping: totals.filter { $0.firstUpgradePromptAt != nil }) {
                        "\($0.customerId)/\($0.feature)/\($0.planId)"
                    }.mapValues { $0.compactMap(\.firstUpgradePromptAt).min()! }
                    #expect(
                        Dictionary(
                            uniqueKeysWithValues: prompts.map { ("\($0.customerId)/\($0.feature)/\($0.planId)", $0.at) }
                        )
                            == expectedPrompts)
                }
            } catch {
                Issue.record(error)
            }
        }
    }
}
