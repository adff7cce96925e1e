import Foundation
import PropertyBased
import Testing
import TollgateCore
import TollgateMeter

/// The meter writes its stored answers by hand; they must read back as the same outcome.
@Suite struct StoredOutcomeTests {
    @Test func theHandWrittenJSONDecodesToTheSameOutcome() async {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let text = Gen.character(in: "\u{1}"..."\u{2FF}").string(of: 0...12)
        await propertyCheck(
            count: 300, input: text, text, Gen.int64(in: -5...Int64.max), Gen.int(in: 0...7),
            Gen.int64(in: 0...4_000_000_000)
        ) { customer, feature, number, shape, seconds in
            let outcome = UsageOutcome(
                allowed: shape % 2 == 0, customer: customer, feature: feature, amount: number,
                limit: shape > 2 ? number : nil, used: number / 3,
                remaining: shape > 3 ? 7 : nil,
                resetsAt: shape > 1 ? Date(timeIntervalSince1970: TimeInterval(seconds)) : nil,
                reason: shape == 5 ? .userQuotaExhausted : nil, upgradeTier: shape == 6 ? feature : nil,
                overage: shape == 7 ? number : nil
            )
            let decoded = try? decoder.decode(UsageOutcome.self, from: Data(outcome.storedJSON.utf8))
            #expect(decoded == outcome, "\(outcome.storedJSON)")
        }
    }
}

extension StoredOutcomeTests {
    /// An accepted answer survives its compact record; a refusal has none.
    @Test func theCompactRecordOfAnAcceptedAnswerReadsBackTheSame() async {
        await propertyCheck(
            count: 300, input: Gen.int64(in: 0...Int64.max / 2), Gen.int(in: 0...7), Gen.int64(in: 0...4_000_000_000)
        ) { number, shape, seconds in
            let outcome = UsageOutcome(
                allowed: true, customer: "cus:42", feature: "api_calls", amount: number % 1000 + 1,
                limit: shape > 2 ? number : nil, used: number / 3,
                remaining: shape > 3 ? number / 7 : nil,
                resetsAt: shape > 1 ? Date(timeIntervalSince1970: TimeInterval(seconds)) : nil,
                reason: nil, upgradeTier: nil, overage: shape == 7 ? number : nil
            )
            let record = try #require(outcome.compactRecord)
            #expect(
                UsageOutcome(compactRecord: record, customer: "cus:42", feature: "api_calls") == outcome, "\(record)")
        }
        let refused = UsageOutcome(
            allowed: false, customer: "c", feature: "f", amount: 1, limit: 1, used: 1, remaining: 0, resetsAt: nil,
            reason: .userQuotaExhausted, upgradeTier: "pro")
        #expect(refused.compactRecord == nil)
        #expect(UsageOutcome(compactRecord: "{\"allowed\":true}", customer: "c", feature: "f") == nil)
    }
}
