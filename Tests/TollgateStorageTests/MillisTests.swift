import Foundation
import PropertyBased
import Testing
import TollgateStorage

@Suite struct MillisTests {
    /// Milliseconds stored and read back are the same milliseconds (a plain floor of the binary
    /// fraction once lost one, and two changes a millisecond apart got the same time).
    @Test func millisecondsSurviveTheRoundTripThroughDate() async {
        await propertyCheck(count: 2000, input: Gen.int64(in: 0...4_102_444_800_000)) { millis in
            #expect(Millis.from(Millis.date(millis)) == millis)
        }
        #expect(Millis.from(Date(timeIntervalSince1970: 1.0009)) == 1000, "still rounded down")
        #expect(Millis.from(Millis.date(1_747_180_800_123)) == 1_747_180_800_123)
    }
}
