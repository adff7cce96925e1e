import Foundation
import TollgateCore

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

/// What a counter and an event are about: `customer:<id>` (a workspace's shared pool is its
/// customer id too). One place writes and reads the form.
public enum Subject {
    static let customerPrefix = "customer:"

    public static func customer(_ id: String) -> String { customerPrefix + id }

    /// The customer id of a subject; nil for another form.
    public static func customerId(_ subject: String) -> String? {
        subject.hasPrefix(customerPrefix) ? String(subject.dropFirst(customerPrefix.count)) : nil
    }
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
    /// The quota alerts this counter arms: the commit that takes it across one writes the event.
    public var alert: CounterAlert?

    public init(
        key: CounterKey, period: String, periodEndMillis: Int64?, delta: Int64, leaseNode: String? = nil,
        alert: CounterAlert? = nil
    ) {
        self.key = key
        self.period = period
        self.periodEndMillis = periodEndMillis
        self.delta = delta
        self.leaseNode = leaseNode
        self.alert = alert
    }
}

extension CounterDelta {
    /// Whether committing this change must learn the counter's new value: it grows a counter
    /// that has quota alerts.
    public var watchesThresholds: Bool { delta > 0 && alert.map { !$0.percents.isEmpty && $0.limit > 0 } == true }
}

/// A counter's limit and the percentages of it that raise a quota alert (`usage.threshold_reached`,
/// `usage.limit_reached` at 100 %). The crossing is decided by the commit, against the counter's
/// committed value, so it is seen once however many consumes or nodes race across it.
public struct CounterAlert: Sendable, Hashable {
    public let limit: Int64
    public let percents: [Int]

    public init(limit: Int64, percents: [Int]) {
        self.limit = limit
        self.percents = percents
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

/// One caller's change within a group commit: counter deltas, for a mutating call the
/// idempotency record that makes it happen once, and for a consume (allowed or refused) what it
/// adds to the usage analytics.
public struct UsageEntry: Sendable {
    public var deltas: [CounterDelta]
    public var record: IdempotencyRecord?
    public var fact: UsageFact?

    public init(deltas: [CounterDelta], record: IdempotencyRecord?, fact: UsageFact? = nil) {
        self.deltas = deltas
        self.record = record
        self.fact = fact
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

    public init(feature: String, period: String, periodStart: Date, periodEnd: Date?, used: Int64) {
        self.feature = feature
        self.period = period
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.used = used
    }
}

public protocol UsageStore: Sendable {
    /// The committed value of a counter (0 when it was never written).
    func counterValue(_ key: CounterKey) async throws -> Int64
    /// Applies every delta and stores every idempotency record in one transaction.
    /// Applies the batch in one transaction. An entry whose idempotency key is stored already
    /// (a retry, or another node's) is skipped whole; the answer says, per entry, whether it
    /// was applied.
    @discardableResult
    func commit(_ batch: UsageBatch) async throws -> [Bool]
    func idempotencyRecord(scope: String, key: String) async throws -> IdempotencyRecord?
    /// Deletes up to `limit` of the oldest idempotency records created before `cutoff`; how many
    /// it deleted. A request retried with a deleted key is a new request.
    func purgeIdempotencyRecords(createdBefore cutoff: Date, limit: Int) async throws -> Int
    /// Counters of `subject`: lifetime ones always, periodic ones whose window starts in [from, to).
    func usageHistory(subject: String, from: Date, to: Date) async throws -> [UsageRow]
}
