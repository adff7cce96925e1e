import Foundation
import PropertyBased
import Testing

@testable import TollgateCore

@Suite struct RevenueSeriesTests {
    static let eur = Currency("EUR")!
    static func day(_ month: Int, _ day: Int) -> Date {
        var components = DateComponents(year: 2026, month: month, day: day, hour: 12)
        components.timeZone = TimeZone(identifier: "UTC")
        return Calendar(identifier: .gregorian).date(from: components)!
    }

    @Test func intervalsAreCalendarDaysISOWeeksAndMonthsInUTC() {
        let months = RevenueSeries.boundaries(from: Self.day(1, 15), to: Self.day(3, 2), interval: .month)
        #expect(
            months.map { $0.formatted(.iso8601) } == [
                "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z",
            ])
        let weeks = RevenueSeries.boundaries(from: Self.day(1, 1), to: Self.day(1, 6), interval: .week)
        #expect(weeks.first?.formatted(.iso8601) == "2025-12-29T00:00:00Z", "ISO weeks start on Monday")
    }

    @Test func aSmallHistoryGivesTheFiguresByHand() {
        let movements: [RevenueSeries.Movement] = [
            .init(subject: "a", kind: .new, amount: 1000, mrrAfter: 1000, at: Self.day(1, 5)),
            .init(subject: "b", kind: .new, amount: 3000, mrrAfter: 3000, at: Self.day(1, 20)),
            .init(subject: "a", kind: .expansion, amount: 1000, mrrAfter: 2000, at: Self.day(2, 3)),
            .init(subject: "b", kind: .churn, amount: -3000, mrrAfter: 0, at: Self.day(2, 10)),
        ]
        let report = RevenueSeries.compute(movements, from: Self.day(1, 1), to: Self.day(2, 28), interval: .month)
        #expect(report.count == 2)
        let january = report[0], february = report[1]
        #expect(january.mrrStart == 0 && january.mrrEnd == 4000 && january.movements[.new] == 4000)
        #expect(january.payingCustomers == 2 && january.arpa == 2000 && january.arr == 48_000)
        #expect(january.logoChurnRate == nil && january.quickRatio == nil, "no denominator")
        #expect(february.mrrStart == 4000 && february.mrrEnd == 2000)
        #expect(february.logoChurnRate == 0.5 && february.grossMrrChurnRate == 0.75)
        #expect(february.netMrrChurnRate == 0.5, "(3000 - 1000) / 4000")
        #expect(february.quickRatio == Double(1000) / Double(3000))
        #expect(february.arpa == 2000 && february.ltv == 4000, "2000 / 0.5")
    }

    @Test func trialsCountWhereTheyStartAndWhereTheyEnd() {
        let trials: [RevenueSeries.Trial] = [
            .init(startedAt: Self.day(1, 20), endedAt: Self.day(2, 3), converted: true),
            .init(startedAt: Self.day(1, 25), endedAt: Self.day(2, 8), converted: false),
            .init(startedAt: Self.day(2, 20), endedAt: nil, converted: nil),
        ]
        let report = RevenueSeries.compute(
            [], trials: trials, from: Self.day(1, 1), to: Self.day(2, 28), interval: .month)
        #expect(report.map(\.trialsStarted) == [2, 1])
        #expect(report.map(\.trialsConverted) == [0, 1])
        #expect(report[0].trialConversionRate == nil, "none ended in January")
        #expect(report[1].trialConversionRate == 0.5)
    }

    /// However customers move, the report chains (each interval starts where the last ended),
    /// its movements add up, and its end state is what each customer's last movement says.
    @Test func theReportAgreesWithTheCustomersOwnHistory() async {
        let steps = zip(Gen.int(in: 0...5), Gen.int(in: 0...3), Gen.int(in: 0...89)).array(of: 1...80)
        await propertyCheck(count: 300, input: steps) { steps in
            var mrr: [String: Int64] = [:]
            var paid: Set<String> = []
            var movements: [RevenueSeries.Movement] = []
            // Customers move in time order (a movement chains from the one before it).
            for (offset, (customer, level, dayOffset)) in steps.sorted(by: { $0.2 < $1.2 }).enumerated() {
                let subject = "c\(customer)"
                let after = [0, 990, 2990, 4990][level] as Int64
                let at = Self.day(1, 1).addingTimeInterval(TimeInterval(dayOffset * 86_400 + offset))
                let before = mrr[subject] ?? 0
                for move in RevenueMovement.between(
                    before == 0 ? [:] : [Self.eur: before], after == 0 ? [:] : [Self.eur: after],
                    hasPaidBefore: { _ in paid.contains(subject) })
                {
                    movements.append(
                        .init(subject: subject, kind: move.kind, amount: move.amount, mrrAfter: after, at: at))
                }
                if after > 0 { paid.insert(subject) }
                mrr[subject] = after
            }
            var last: [String: Int64] = [:]
            for move in movements { last[move.subject] = move.mrrAfter }
            let report = RevenueSeries.compute(
                movements.reversed(), from: Self.day(1, 1), to: Self.day(4, 1), interval: .week)
            for (earlier, later) in zip(report, report.dropFirst()) { #expect(earlier.mrrEnd == later.mrrStart) }
            for period in report {
                #expect(period.mrrEnd - period.mrrStart == period.movements.values.reduce(0, +))
            }
            #expect(report.first?.mrrStart == 0)
            #expect(report.last?.mrrEnd == last.values.reduce(0, +))
            #expect(report.last?.payingCustomers == last.values.filter { $0 > 0 }.count)
        }
    }
}
