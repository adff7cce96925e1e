import Foundation

/// Why credits moved. Stable strings: they appear in histories and exports.
public enum CreditReason: String, Sendable, Codable, CaseIterable {
    case purchase, grant
    case starterPack = "starter_pack"
    case planGrant = "plan_grant"
    case consumption, refund, expiry, adjustment
}

/// A batch of credits given to a subject, drawn down by consumption.
public struct CreditGrant: Sendable, Hashable {
    public let id: String
    public let amount: Int64
    public var remaining: Int64
    /// Drawn before grants of lower priority.
    public let priority: Int
    public let expiresAt: Date?
    public let createdAt: Date

    public init(id: String, amount: Int64, remaining: Int64, priority: Int, expiresAt: Date?, createdAt: Date) {
        self.id = id
        self.amount = amount
        self.remaining = remaining
        self.priority = priority
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }

    public func isLive(at now: Date) -> Bool { expiresAt.map { $0 > now } ?? true }
}

/// One line of a balanced ledger transaction: `account` moves by `amount`.
public struct LedgerLine: Sendable, Hashable {
    public enum Account: Hashable, Sendable {
        /// The subject's credits, held in one grant.
        case grant(String)
        /// Credits spent beyond the grants, within the plan's overdraft.
        case overdraft
        /// The other side of every movement: where credits come from and go to.
        case system(CreditReason)
    }

    public let account: Account
    public let amount: Int64

    public init(_ account: Account, _ amount: Int64) {
        self.account = account
        self.amount = amount
    }
}

/// Pure ledger rules. Every movement is a transaction whose lines sum to zero; a subject's
/// balance is the sum of its grant and overdraft lines.
public enum CreditLedger {
    /// The order in which grants are drawn: higher priority first, then the soonest expiry
    /// (grants that never expire last), then the oldest.
    public static func drawOrder(_ grants: [CreditGrant]) -> [CreditGrant] {
        grants.sorted { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            let aExpiry = a.expiresAt ?? .distantFuture, bExpiry = b.expiresAt ?? .distantFuture
            if aExpiry != bExpiry { return aExpiry < bExpiry }
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            return a.id < b.id
        }
    }

    public enum DebitError: Error, Sendable, Equatable {
        /// Not enough credits, even with the overdraft allowed.
        case insufficient(available: Int64)
    }

    /// Lines that take `amount` from live grants in draw order, then from the overdraft up to
    /// `overdraftLimit` (beyond what is already overdrawn). `held` credits are reserved by
    /// others and cannot be taken.
    public static func debit(
        _ amount: Int64, grants: [CreditGrant], overdrawn: Int64, overdraftLimit: Int64, held: Int64, now: Date,
        reason: CreditReason = .consumption
    ) throws(DebitError) -> [LedgerLine] {
        let available = available(
            grants: grants, overdrawn: overdrawn, overdraftLimit: overdraftLimit, held: held, now: now)
        guard amount <= available else { throw .insufficient(available: max(0, available)) }
        var lines: [LedgerLine] = []
        var left = amount
        for grant in drawOrder(grants.filter { $0.isLive(at: now) && $0.remaining > 0 }) where left > 0 {
            let take = min(grant.remaining, left)
            lines.append(LedgerLine(.grant(grant.id), -take))
            left -= take
        }
        if left > 0 { lines.append(LedgerLine(.overdraft, -left)) }
        lines.append(LedgerLine(.system(reason), amount))
        return lines
    }

    /// What can still be spent: live grants, plus the unused overdraft, minus holds.
    public static func available(grants: [CreditGrant], overdrawn: Int64, overdraftLimit: Int64, held: Int64, now: Date)
        -> Int64
    {
        let live = grants.filter { $0.isLive(at: now) }.reduce(Int64(0)) { $0 + $1.remaining }
        return live + max(0, overdraftLimit - overdrawn) - held
    }

    /// Lines that give `amount` as the new grant `grantId`. Credits added while overdrawn pay the
    /// overdraft back first.
    public static func grant(_ amount: Int64, grantId: String, overdrawn: Int64, reason: CreditReason) -> [LedgerLine] {
        let repay = min(overdrawn, amount)
        var lines = [LedgerLine(.system(reason), -amount)]
        if repay > 0 { lines.append(LedgerLine(.overdraft, repay)) }
        lines.append(LedgerLine(.grant(grantId), amount - repay))
        return lines
    }

    /// Lines that write off what is left of grants that expired by `now`.
    public static func expire(grants: [CreditGrant], now: Date) -> [(grant: CreditGrant, lines: [LedgerLine])] {
        grants.filter { !$0.isLive(at: now) && $0.remaining > 0 }.map { grant in
            (grant, [LedgerLine(.grant(grant.id), -grant.remaining), LedgerLine(.system(.expiry), grant.remaining)])
        }
    }

    public static func isBalanced(_ lines: [LedgerLine]) -> Bool {
        lines.reduce(Int64(0)) { $0 + $1.amount } == 0
    }
}
