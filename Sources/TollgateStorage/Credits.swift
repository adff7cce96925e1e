import Foundation
import TollgateCore

/// One subject's credits of one type, as loaded under the account's lock.
public struct CreditState: Sendable {
    public let subject: String
    public let creditType: String
    /// Grants with credits left, live or just expired (not yet written off).
    public let grants: [CreditGrant]
    public let overdrawn: Int64
    /// Reservations still holding credits (not settled, not expired).
    public let holds: [ReservationRecord]
    public let balance: Int64

    public var held: Int64 { holds.reduce(0) { $0 + $1.amount } }

    public init(
        subject: String, creditType: String, grants: [CreditGrant], overdrawn: Int64, holds: [ReservationRecord],
        balance: Int64
    ) {
        self.subject = subject
        self.creditType = creditType
        self.grants = grants
        self.overdrawn = overdrawn
        self.holds = holds
        self.balance = balance
    }
}

public struct ReservationRecord: Sendable, Hashable {
    public enum Status: String, Sendable { case held, committed, released, expired }

    public let id: String
    public let subject: String
    public let creditType: String
    public let amount: Int64
    public var status: Status
    public var committedAmount: Int64?
    public let expiresAt: Date
    public let createdAt: Date

    public init(
        id: String, subject: String, creditType: String, amount: Int64, status: Status, committedAmount: Int64?,
        expiresAt: Date, createdAt: Date
    ) {
        self.id = id
        self.subject = subject
        self.creditType = creditType
        self.amount = amount
        self.status = status
        self.committedAmount = committedAmount
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }
}

/// A new grant to create.
public struct NewGrant: Sendable {
    public let id: String
    public let amount: Int64
    public let priority: Int
    public let expiresAt: Date?
    public let reason: CreditReason
    public let reference: String?

    public init(id: String, amount: Int64, priority: Int, expiresAt: Date?, reason: CreditReason, reference: String?) {
        self.id = id
        self.amount = amount
        self.priority = priority
        self.expiresAt = expiresAt
        self.reason = reason
        self.reference = reference
    }
}

/// A balanced movement to record.
public struct LedgerTransaction: Sendable {
    public let reason: CreditReason
    public let reference: String?
    public let lines: [LedgerLine]
    /// When it happened (an expiry is dated at the grant's expiry, not when it was noticed).
    public let at: Date

    public init(reason: CreditReason, reference: String?, lines: [LedgerLine], at: Date) {
        self.reason = reason
        self.reference = reference
        self.lines = lines
        self.at = at
    }
}

/// What a decision does to a credit account; applied in the same transaction that loaded it.
public struct CreditChange: Sendable {
    public var grants: [NewGrant] = []
    public var transactions: [LedgerTransaction] = []
    public var newReservations: [ReservationRecord] = []
    /// Reservations whose status (and committed amount) change.
    public var settledReservations: [ReservationRecord] = []
    /// The answer to store for idempotent replay (JSON).
    public var response: String
    /// Events the change makes true (`credits.low`), written in its transaction.
    public var outbox: [OutboxMessage] = []

    public init(response: String) { self.response = response }
}

/// An idempotency key for a credit operation.
public struct IdempotencyClaim: Sendable {
    public let scope: String
    public let key: String
    public let fingerprint: String

    public init(scope: String, key: String, fingerprint: String) {
        self.scope = scope
        self.key = key
        self.fingerprint = fingerprint
    }
}

public struct CreditHistoryEntry: Sendable, Hashable {
    public let id: String
    public let seq: Int64
    public let delta: Int64
    public let balanceAfter: Int64
    public let reason: String
    public let reference: String?
    public let at: Date

    public init(id: String, seq: Int64, delta: Int64, balanceAfter: Int64, reason: String, reference: String?, at: Date)
    {
        self.id = id
        self.seq = seq
        self.delta = delta
        self.balanceAfter = balanceAfter
        self.reason = reason
        self.reference = reference
        self.at = at
    }
}

public enum CreditStoreError: Error, Sendable, Equatable {
    case idempotencyKeyReused
}

public protocol CreditStore: Sendable {
    /// Locks the subject's account, writes off expired grants, and applies what `decide`
    /// returns, in one transaction. With a claim, a repeated key returns the first response
    /// without calling `decide`.
    func withCreditAccount(
        subject: String, creditType: String, claim: IdempotencyClaim?, now: Date,
        _ decide: @Sendable (CreditState) throws -> CreditChange
    ) async throws -> String
    /// Balance, grants and holds, without changing anything (expired grants shown as written off).
    func creditState(subject: String, creditType: String, now: Date) async throws -> CreditState
    func creditTypes(subject: String) async throws -> [String]
    /// Newest first, `seq` below `before` when given.
    func creditHistory(subject: String, creditType: String, before: Int64?, limit: Int) async throws
        -> [CreditHistoryEntry]
    func reservation(id: String) async throws -> ReservationRecord?
    /// Sum of every ledger line of the account's grants and overdraft: the balance recomputed.
    func ledgerSum(subject: String, creditType: String) async throws -> Int64
}

/// A low balance as `credits.low` carries it.
public struct CreditsLowEventData: Codable, Sendable, Hashable {
    public let customerId: String
    public let creditType: String
    public let balance: Int64
    public let threshold: Int64
    public let version: Int64

    public init(customerId: String, creditType: String, balance: Int64, threshold: Int64, version: Int64) {
        self.customerId = customerId
        self.creditType = creditType
        self.balance = balance
        self.threshold = threshold
        self.version = version
    }
}
