import Crypto
import Foundation
import TollgateCore

/// A fact that systems and people hear about (`usage.limit_reached`, `customer.plan_changed`…).
/// It is written to the outbox as kind `event.<type>` in the transaction that makes it true; the
/// delivery service then fans it out to the webhook endpoints that listen for its type and to the
/// people it concerns. Its payload is the webhook body, byte for byte: `{"type", "timestamp",
/// "data"}` as Standard Webhooks recommends, `data` holding the object's state and a `version`
/// that grows with each change, so a receiver can order events that arrive out of order.
public enum OutboxEvent {
    public static let kindPrefix = "event."

    /// The event types Tollgate emits; endpoints filter on them.
    public static let types: [String] = [
        "customer.created", "customer.plan_changed",
        "subscription.created", "subscription.updated", "subscription.trial_will_end", "subscription.past_due",
        "subscription.canceled",
        "usage.threshold_reached", "usage.limit_reached",
        "credits.low",
        "invoice.issued", "invoice.paid", "invoice.overdue",
    ]

    /// The outbox row of an event. `subject` (`customer:<id>`, `workspace:<id>`) says whom it
    /// concerns; `id` is chosen by the caller, deterministic where a fact must be told once.
    public static func message(
        id: String, type: String, subject: String, data: some Encodable, at date: Date
    ) throws -> OutboxMessage {
        let body = try encoder.encode(Body(type: type, timestamp: date, data: data))
        return OutboxMessage(
            id: id, kind: kindPrefix + type, recipient: subject, payload: String(decoding: body, as: UTF8.self),
            createdAt: date)
    }

    /// An id for an event written once, in the transaction of the change it tells (events that
    /// must be told once whoever writes them derive their id from what makes them unique).
    public static func uniqueId() -> String {
        "evt_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// The type of an event row, or nil for another kind of message.
    public static func type(ofKind kind: String) -> String? {
        kind.hasPrefix(kindPrefix) ? String(kind.dropFirst(kindPrefix.count)) : nil
    }

    private struct Body<Payload: Encodable>: Encodable {
        let type: String
        let timestamp: Date
        let data: Payload
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()
}

/// What a quota alert says: whose counter, which feature, which threshold, and where it stands.
public struct UsageAlert: Codable, Sendable, Hashable {
    public let customerId: String?
    public let feature: String
    public let percent: Int
    public let limit: Int64
    public let used: Int64
    public let periodStart: Date
    public let periodEnd: Date?
    /// The counter's value: later alerts of the same counter carry a larger one.
    public let version: Int64

    public init(key: CounterKey, percent: Int, limit: Int64, used: Int64, periodEnd: Date?) {
        self.customerId = Subject.customerId(key.subject)
        self.feature = key.feature
        self.percent = percent
        self.limit = limit
        self.used = used
        self.periodStart = Millis.date(key.periodStartMillis)
        self.periodEnd = periodEnd
        self.version = used
    }
}

/// Event ids derived from what makes the event unique, so whoever writes it twice (a retry, a
/// crash, another node) writes one row.
public enum EventIds {
    public static func derive(_ parts: String...) -> String {
        let digest = SHA256.hash(data: Data(parts.joined(separator: "\u{1F}").utf8))
        return "evt_" + Hex.encode(digest.prefix(12))
    }
}
