import Foundation
import PropertyBased
import Testing

@testable import TollgateCore

@Suite struct CreditLedgerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func grant(
        _ id: String, _ remaining: Int64, priority: Int = 0, expiresIn: TimeInterval? = nil, age: TimeInterval = 0
    ) -> CreditGrant {
        CreditGrant(
            id: id, amount: remaining, remaining: remaining, priority: priority, expiresAt: expiresIn.map { now + $0 },
            createdAt: now - age)
    }

    @Test func debitsDrawByPriorityThenSoonestExpiryThenAge() throws {
        let grants = [
            grant("forever", 10),
            grant("soon", 5, expiresIn: 60),
            grant("later", 5, expiresIn: 3600),
            grant("promo", 2, priority: 1, expiresIn: 7200),
            grant("old-forever", 10, age: 100),
            grant("expired", 50, expiresIn: -1),
        ]
        #expect(
            CreditLedger.drawOrder(grants).map(\.id) == ["promo", "expired", "soon", "later", "old-forever", "forever"])
        let lines = try CreditLedger.debit(15, grants: grants, overdrawn: 0, overdraftLimit: 0, held: 0, now: now)
        #expect(
            lines == [
                LedgerLine(.grant("promo"), -2), LedgerLine(.grant("soon"), -5), LedgerLine(.grant("later"), -5),
                LedgerLine(.grant("old-forever"), -3), LedgerLine(.system(.consumption), 15),
            ])
        #expect(CreditLedger.isBalanced(lines))
    }

    @Test func neverBelowZeroUnlessTheOverdraftAllowsAndHoldsAreUntouchable() throws {
        let grants = [grant("a", 10)]
        #expect(throws: CreditLedger.DebitError.insufficient(available: 10)) {
            try CreditLedger.debit(11, grants: grants, overdrawn: 0, overdraftLimit: 0, held: 0, now: now)
        }
        #expect(throws: CreditLedger.DebitError.insufficient(available: 6)) {
            try CreditLedger.debit(7, grants: grants, overdrawn: 0, overdraftLimit: 0, held: 4, now: now)
        }
        let overdrawn = try CreditLedger.debit(13, grants: grants, overdrawn: 0, overdraftLimit: 5, held: 0, now: now)
        #expect(overdrawn.contains(LedgerLine(.overdraft, -3)))
        #expect(throws: CreditLedger.DebitError.insufficient(available: 12)) {
            try CreditLedger.debit(13, grants: grants, overdrawn: 3, overdraftLimit: 5, held: 0, now: now)
        }
        // A grant pays the overdraft back first.
        #expect(
            CreditLedger.grant(10, grantId: "b", overdrawn: 3, reason: .purchase)
                == [LedgerLine(.system(.purchase), -10), LedgerLine(.overdraft, 3), LedgerLine(.grant("b"), 7)])
    }

    @Test func expiredRemaindersAreWrittenOff() {
        let written = CreditLedger.expire(
            grants: [
                grant("gone", 7, expiresIn: -10), grant("live", 3, expiresIn: 10), grant("spent", 0, expiresIn: -10),
            ], now: now)
        #expect(written.map(\.grant.id) == ["gone"])
        #expect(written.first?.lines == [LedgerLine(.grant("gone"), -7), LedgerLine(.system(.expiry), 7)])
    }

    /// Random grants, debits, holds and expiries: every transaction balances, no grant goes below
    /// zero, the overdraft never passes its limit, and the balance always equals the sum of lines.
    @Test func ledgerInvariantsHoldUnderRandomOperations() async {
        let operations = zip(Gen.int(in: 0...3), Gen.int64(in: 1...40), Gen.int(in: -2...4)).array(of: 1...60)
        await propertyCheck(count: 300, input: operations, Gen.int64(in: 0...20)) { ops, overdraftLimit in
            var grants: [CreditGrant] = []
            var overdrawn: Int64 = 0
            var lines: [LedgerLine] = []
            var clock = now
            for (index, (kind, amount, hours)) in ops.enumerated() {
                var transaction: [LedgerLine] = []
                switch kind {
                case 0:
                    let id = "g\(index)"
                    transaction = CreditLedger.grant(amount, grantId: id, overdrawn: overdrawn, reason: .grant)
                    // Starts empty: the transaction's lines credit it below.
                    grants.append(
                        CreditGrant(
                            id: id, amount: amount, remaining: 0, priority: hours % 2,
                            expiresAt: hours > 0 ? clock + Double(hours) * 3600 : nil, createdAt: clock))
                case 1, 2:
                    transaction =
                        (try? CreditLedger.debit(
                            amount, grants: grants, overdrawn: overdrawn, overdraftLimit: overdraftLimit, held: 0,
                            now: clock)) ?? []
                default:
                    clock += Double(amount) * 600
                    for (grant, expiry) in CreditLedger.expire(grants: grants, now: clock) {
                        apply(expiry, grants: &grants, overdrawn: &overdrawn)
                        lines += expiry
                        #expect(grants.first { $0.id == grant.id }?.remaining == 0)
                    }
                }
                #expect(CreditLedger.isBalanced(transaction))
                apply(transaction, grants: &grants, overdrawn: &overdrawn)
                lines += transaction
                #expect(grants.allSatisfy { $0.remaining >= 0 })
                #expect(overdrawn >= 0 && overdrawn <= overdraftLimit)
                let fromLines = lines.reduce(Int64(0)) { sum, line in
                    switch line.account {
                    case .grant, .overdraft: return sum + line.amount
                    case .system: return sum
                    }
                }
                #expect(fromLines == grants.reduce(0) { $0 + $1.remaining } - overdrawn)
            }
        }
    }

    private func apply(_ lines: [LedgerLine], grants: inout [CreditGrant], overdrawn: inout Int64) {
        for line in lines {
            switch line.account {
            case .grant(let id):
                if let index = grants.firstIndex(where: { $0.id == id }) { grants[index].remaining += line.amount }
            case .overdraft: overdrawn -= line.amount
            case .system: break
            }
        }
    }
}
