import Foundation
import PropertyBased
import TestSupport
import Testing

@testable import TollgateCore

@Suite struct PeriodTests {
    func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0) -> Date {
        Fixtures.utc(year, month, day, hour, minute, second)
    }

    @Test func monthlyTurnsOverAtMidnightUTCOnTheFirst() {
        let january = PeriodMath.window(.monthly, containing: utc(2026, 1, 31, 23, 59, 59), anchor: .distantPast)
        #expect(january == PeriodWindow(start: utc(2026, 1, 1), end: utc(2026, 2, 1)))
        let february = PeriodMath.window(.monthly, containing: utc(2026, 2, 1), anchor: .distantPast)
        #expect(february == PeriodWindow(start: utc(2026, 2, 1), end: utc(2026, 3, 1)))
        let december = PeriodMath.window(.monthly, containing: utc(2026, 12, 15), anchor: .distantPast)
        #expect(december.end == utc(2027, 1, 1))
    }

    @Test func lifetimeNeverEnds() {
        let window = PeriodMath.window(.lifetime, containing: utc(2090, 6, 1), anchor: utc(2026, 1, 1))
        #expect(window == .lifetime)
        #expect(window.contains(utc(1999, 1, 1)) && window.contains(utc(2200, 1, 1)))
    }

    @Test func billingCycleFollowsTheAnchorAndClampsShortMonths() {
        let anchor = utc(2026, 1, 31, 10)
        #expect(
            PeriodMath.window(.billingCycle, containing: utc(2026, 2, 15), anchor: anchor)
                == PeriodWindow(start: anchor, end: utc(2026, 2, 28, 10)))
        #expect(
            PeriodMath.window(.billingCycle, containing: utc(2026, 3, 1), anchor: anchor)
                == PeriodWindow(start: utc(2026, 2, 28, 10), end: utc(2026, 3, 31, 10)))
        // The boundary itself starts the next cycle.
        #expect(
            PeriodMath.window(.billingCycle, containing: utc(2026, 3, 31, 10), anchor: anchor).start
                == utc(2026, 3, 31, 10))
        #expect(
            PeriodMath.window(.billingCycle, containing: utc(2028, 2, 29, 12), anchor: anchor)
                == PeriodWindow(start: utc(2028, 2, 29, 10), end: utc(2028, 3, 31, 10)))
    }

    @Test func everyInstantFallsInExactlyTheWindowThatContainsIt() {
        let anchor = utc(2025, 8, 31, 7, 30)
        var date = utc(2025, 8, 31, 7, 30)
        for _ in 0..<500 {
            for period in ResetPeriod.allCases {
                let window = PeriodMath.window(period, containing: date, anchor: anchor)
                #expect(window.contains(date), "\(period) at \(date)")
                if let end = window.end {
                    #expect(
                        PeriodMath.window(period, containing: end, anchor: anchor).start == end,
                        "\(period) after \(date)")
                }
            }
            date += 86_400 * 1.7
        }
    }

    /// The integer month arithmetic agrees with Foundation's Gregorian calendar, from 1900 to
    /// 2400, fractions of a second and leap years included.
    @Test func monthlyWindowsAgreeWithTheCalendar() async {
        let instants = Gen.double(in: -2_208_988_800...13_569_465_600)
        await propertyCheck(count: 2_000, input: instants) { seconds in
            let date = Date(timeIntervalSince1970: seconds)
            let parts = PeriodMath.utcCalendar.dateComponents([.year, .month], from: date)
            let start = PeriodMath.utcCalendar.date(from: DateComponents(year: parts.year, month: parts.month, day: 1))!
            let end = PeriodMath.utcCalendar.date(byAdding: .month, value: 1, to: start)!
            #expect(
                PeriodMath.window(.monthly, containing: date, anchor: .distantPast)
                    == PeriodWindow(start: start, end: end), "at \(date)")
        }
        // Month and year edges, exactly.
        for (year, month) in [(2024, 2), (2024, 12), (2000, 2), (1900, 2), (2100, 3), (1970, 1)] {
            let first = utc(year, month, 1)
            #expect(PeriodMath.window(.monthly, containing: first, anchor: .distantPast).start == first)
            #expect(PeriodMath.window(.monthly, containing: first - 0.001, anchor: .distantPast).end == first)
        }
    }
}
