import Foundation
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
        #expect(PeriodMath.window(.billingCycle, containing: utc(2026, 2, 15), anchor: anchor)
            == PeriodWindow(start: anchor, end: utc(2026, 2, 28, 10)))
        #expect(PeriodMath.window(.billingCycle, containing: utc(2026, 3, 1), anchor: anchor)
            == PeriodWindow(start: utc(2026, 2, 28, 10), end: utc(2026, 3, 31, 10)))
        // The boundary itself starts the next cycle.
        #expect(PeriodMath.window(.billingCycle, containing: utc(2026, 3, 31, 10), anchor: anchor).start == utc(2026, 3, 31, 10))
        #expect(PeriodMath.window(.billingCycle, containing: utc(2028, 2, 29, 12), anchor: anchor)
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
                    #expect(PeriodMath.window(period, containing: end, anchor: anchor).start == end, "\(period) after \(date)")
                }
            }
            date += 86_400 * 1.7
        }
    }
}
