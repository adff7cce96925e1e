import Foundation
import TollgateCore

/// Times are stored as UTC milliseconds since 1970: the same integer on both databases.
public enum Millis {
    public static func from(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
    public static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
    static func now() -> Int64 { from(Date()) }
}

public struct CustomerRecord: Sendable, Hashable, Codable {
    public var id: String
    public var email: String?
    public var name: String?
    public var planId: String
    /// When the current billing cycle was anchored (the plan's start).
    public var billingAnchor: Date
    public var createdAt: Date
    public var updatedAt: Date
    /// Add-ons bought, by catalog add-on id.
    public var addOns: [String: Int]
    /// Seats bought, for plans priced per seat.
    public var seats: Int?
    /// The most this customer's overage may cost in one period; nil: no cap.
    public var spendCap: Money?

    public init(
        id: String, email: String?, name: String?, planId: String, billingAnchor: Date, createdAt: Date, updatedAt: Date,
        addOns: [String: Int] = [:], seats: Int? = nil, spendCap: Money? = nil
    ) {
        self.spendCap = spendCap
        self.id = id
        self.email = email
        self.name = name
        self.planId = planId
        self.billingAnchor = billingAnchor
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.addOns = addOns
        self.seats = seats
    }
}

public enum CustomerCreation: Sendable, Hashable {
    case created(CustomerRecord)
    /// The id was taken already; the stored record is returned unchanged.
    case existing(CustomerRecord)
}

public struct APIKeyRecord: Sendable, Hashable {
    public var id: String
    /// The first characters of the secret, shown in listings so a key can be recognized.
    public var prefix: String
    /// SHA-256 of the whole secret, hex. The secret itself is never stored.
    public var secretHash: String
    public var scopes: [String]
    public var name: String?
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(
        id: String, prefix: String, secretHash: String, scopes: [String], name: String?, createdAt: Date,
        expiresAt: Date? = nil, lastUsedAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.id = id
        self.prefix = prefix
        self.secretHash = secretHash
        self.scopes = scopes
        self.name = name
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

/// Identifies one usage counter: who, what, and which period window.
public struct CounterKey: Sendable, Hashable, CustomStringConvertible {
    /// `customer:<id>` today; `workspace:<id>` for shared pools.
    public let subject: String
    public let feature: String
    public let periodStartMillis: Int64

    public init(subject: String, feature: String, periodStartMillis: Int64) {
        self.subject = subject
        self.feature = feature
        self.periodStartMillis = periodStartMillis
    }

    public var description: String { "\(subject)/\(feature)@\(periodStartMillis)" }
}

/// A change to one counter, as the meter commits it.
public struct CounterDelta: Sendable, Hashable {
    public let key: CounterKey
    public let period: String
    public let periodEndMillis: Int64?
    public let delta: Int64
    /// The node whose lease the units were consumed from: its outstanding lease shrinks by as
    /// much, in the same transaction.
    public let leaseNode: String?

    public init(key: CounterKey, period: String, periodEndMillis: Int64?, delta: Int64, leaseNode: String? = nil) {
        self.key = key
        self.period = period
        self.periodEndMillis = periodEndMillis
        self.delta = delta
        self.leaseNode = leaseNode
    }
}

/// The first answer given to an idempotent request, replayed to its retries.
public struct IdempotencyRecord: Sendable, Hashable {
    public let scope: String
    public let key: String
    /// A digest of the request, to refuse a key reused for a different request.
    public let fingerprint: String
    public let response: String
    public let createdAt: Date

    public init(scope: String, key: String, fingerprint: String, response: String, createdAt: Date) {
        self.scope = scope
        self.key = key
        self.fingerprint = fingerprint
        self.response = response
        self.createdAt = createdAt
    }
}

/// One caller's change within a group commit: counter deltas and, for a mutating call, the
/// idempotency record that makes it happen once.
public struct UsageEntry: Sendable {
    public var deltas: [CounterDelta]
    public var record: IdempotencyRecord?

    public init(deltas: [CounterDelta], record: IdempotencyRecord?) {
        self.deltas = deltas
        self.record = record
    }
}

/// Everything one group commit writes, in one transaction.
public struct UsageBatch: Sendable {
    public var entries: [UsageEntry]
    public var at: Date

    public init(entries: [UsageEntry], at: Date) {
        self.entries = entries
        self.at = at
    }
}

public struct UsageRow: Sendable, Hashable {
    public let feature: String
    public let period: String
    public let periodStart: Date
    public let periodEnd: Date?
    public let used: Int64
}
