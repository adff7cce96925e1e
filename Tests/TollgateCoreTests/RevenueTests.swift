import Foundation
import PropertyBased
import Testing

@testable import TollgateCore

@Suite struct RevenueTests {
    static let eur = Currency("EUR")!
    static let usd = Currency("USD")!

    static let catalog: Catalog = {
        try! CatalogLoader.load(
            yaml: """
                product: revenue
                defaultPlan: free
                features:
                  seats: { type: limit }
                plans:
                  - id: free
                    order: 0
                    features: {}
                  - id: pro
                    order: 1
                    prices:
                      - { currency: EUR, interval: month, amount: 990 }
                      - { currency: EUR, interval: year, amount: 9900 }
                      - { currency: USD, interval: year, amount: 10001 }
                    features: {}
                  - id: team
                    order: 2
                    prices: [{ currency: EUR, interval: month, amount: 1000, perSeatAmount: 500, minimumSeats: 3 }]
                    features: {}
                addOns:
                  - id: storage
                    name: Storage
                    plans: [pro, team]
                    prices:
                      - { currency: EUR, interval: month, amount: 200 }
                      - { currency: EUR, interval: year, amount: 2000 }
                    features: { seats: 1 }
                """)
    }()

    static func subscription(
        _ plan: String, _ interval: BillingInterval = .month, _ currency: Currency = eur,
        status: SubscriptionStatus = .active, seats: Int? = nil, addOns: [String: Int] = [:]
    ) -> Subscription {
        Subscription(
            id: "sub", subject: "c1", planId: plan, interval: interval, currency: currency, seats: seats,
            status: status, currentPeriodStart: Date(timeIntervalSince1970: 0),
            currentPeriodEnd: Date(timeIntervalSince1970: 86_400 * 30), hasPaymentMethod: true, addOns: addOns)
    }

    @Test func mrrIsTheInvoicedPeriodNormalisedToAMonth() {
        let mrr = { (subscription: Subscription) -> Int64 in Revenue.mrr(of: subscription, catalog: Self.catalog) }
        #expect(mrr(Self.subscription("pro")) == 990)
        #expect(mrr(Self.subscription("pro", .year)) == 825, "9900 / 12")
        #expect(mrr(Self.subscription("pro", .year, Self.usd)) == 833, "10001 / 12 = 833.4, half up")
        #expect(mrr(Self.subscription("team", seats: 5)) == 1000 + 5 * 500)
        #expect(mrr(Self.subscription("team", seats: 1)) == 1000 + 3 * 500, "the minimum seats are billed")
        #expect(mrr(Self.subscription("pro", addOns: ["storage": 2])) == 990 + 400)
        #expect(mrr(Self.subscription("pro", .year, addOns: ["storage": 1])) == Revenue.monthlyShare(ofYearly: 11_900))
        #expect(mrr(Self.subscription("pro", status: .pastDue)) == 990, "past due has not churned yet")
        for status in [SubscriptionStatus.trialing, .canceled, .inactive] {
            #expect(mrr(Self.subscription("pro", status: status)) == 0, "\(status)")
        }
        #expect(mrr(Self.subscription("free")) == 0)
        #expect(
            Revenue.mrr(
                of: [Self.subscription("pro"), Self.subscription("pro", .year, Self.usd)], catalog: Self.catalog)
                == [Self.eur: 990, Self.usd: 833], "currencies are never summed")
    }

    @Test func theMonthlyShareOfAYearRoundsHalfUp() async {
        #expect(Revenue.monthlyShare(ofYearly: 6) == 1 && Revenue.monthlyShare(ofYearly: 5) == 0)
        await propertyCheck(count: 1000, input: Gen.int64(in: 0...100_000_000)) { yearly in
            let share = Revenue.monthlyShare(ofYearly: yearly)
            // The share is the nearest whole minor unit, halves going up.
            #expect(abs(share * 12 - yearly) * 2 <= 12)
            #expect(share * 12 - yearly != -6)
        }
    }

    @Test func movementsAreClassifiedAndAddUpToTheChangeOfMRR() async {
        let states = Gen.int(in: 0...3).array(of: 2...30).map { picks in
            picks.map { [0, 0, 990, 2990][$0] as Int64 }
        }
        await propertyCheck(count: 500, input: states) { mrrs in
            var paid = false
            var total: Int64 = 0
            for (before, after) in zip(mrrs, mrrs.dropFirst()) {
                let moves = RevenueMovement.between(
                    before == 0 ? [:] : [Self.eur: before], after == 0 ? [:] : [Self.eur: after],
                    hasPaidBefore: { _ in paid })
                #expect(moves.count == (before == after ? 0 : 1))
                for move in moves {
                    switch move.kind {
                    case .new: #expect(before == 0 && !paid)
                    case .reactivation: #expect(before == 0 && paid)
                    case .churn: #expect(after == 0 && move.amount == -before)
                    case .expansion: #expect(before > 0 && after > before)
                    case .contraction: #expect(after > 0 && after < before)
                    }
                    total += move.amount
                }
                if after > 0 { paid = true }
            }
            #expect(total == (mrrs.last ?? 0) - (mrrs.first ?? 0))
        }
        let both = RevenueMovement.between([Self.eur: 990], [Self.usd: 833], hasPaidBefore: { _ in false })
        #expect(both.map(\.kind) == [.churn, .new], "a switch of currency is a churn and a new customer")
    }
}
