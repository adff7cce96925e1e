import Foundation
import TollgateCore

/// The answer to a check, consume or release: stored as JSON for idempotent replay, so its
/// shape is part of the API.
public struct UsageOutcome: Codable, Sendable, Hashable {
    public var allowed: Bool
    public var customer: String
    public var feature: String
    public var amount: Int64
    /// Nil when unlimited, or for a boolean feature.
    @NullEncoded public var limit: Int64?
    /// Used in the current period, after this call.
    public var used: Int64
    @NullEncoded public var remaining: Int64?
    @NullEncoded public var resetsAt: Date?
    @NullEncoded public var reason: DenialReason?
    @NullEncoded public var upgradeTier: String?
    /// Units beyond the limit in this period, billed at the overage price; null when the
    /// feature has no overage price.
    @NullEncoded public var overage: Int64?

    public init(
        allowed: Bool, customer: String, feature: String, amount: Int64, limit: Int64?, used: Int64,
        remaining: Int64?, resetsAt: Date?, reason: DenialReason?, upgradeTier: String?, overage: Int64? = nil
    ) {
        self.overage = overage
        self.allowed = allowed
        self.customer = customer
        self.feature = feature
        self.amount = amount
        self.limit = limit
        self.used = used
        self.remaining = remaining
        self.resetsAt = resetsAt
        self.reason = reason
        self.upgradeTier = upgradeTier
    }
}

/// One feature as a customer sees it now.
public struct FeatureEntitlement: Sendable, Hashable {
    public let feature: FeatureDefinition
    public let quota: Quota
    public let used: Int64

    public var remaining: Int64? { quota.limit?.value.map { max(0, $0 - used) } }
}

public struct CustomerEntitlements: Sendable {
    public let customerId: String
    public let plan: Plan
    public let features: [FeatureEntitlement]
}

extension UsageOutcome {
    /// The JSON stored for idempotent replay, written directly: the meter writes one per
    /// consume, and Foundation's encoder cost more than the rest of the decision. Decodes with
    /// a JSONDecoder using the `.iso8601` date strategy; a test keeps the two in agreement.
    public var storedJSON: String {
        var json = "{\"allowed\":\(allowed),\"amount\":\(amount),\"customer\":"
        Self.appendString(customer, to: &json)
        json += ",\"feature\":"
        Self.appendString(feature, to: &json)
        json += ",\"limit\":\(limit.map(String.init) ?? "null"),\"overage\":\(overage.map(String.init) ?? "null")"
        json +=
            ",\"reason\":\(reason.map { "\"\($0.rawValue)\"" } ?? "null")"
            + ",\"remaining\":\(remaining.map(String.init) ?? "null")"
        json += ",\"resetsAt\":\(resetsAt.map { "\"\(Self.iso8601($0))\"" } ?? "null")"
        json += ",\"upgradeTier\":"
        if let upgradeTier { Self.appendString(upgradeTier, to: &json) } else { json += "null" }
        json += ",\"used\":\(used)}"
        return json
    }

    private static func appendString(_ value: String, to json: inout String) {
        json += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case _ where scalar.value < 0x20: json += String(format: "\\u%04x", scalar.value)
            default: json.unicodeScalars.append(scalar)
            }
        }
        json += "\""
    }

    /// `2026-06-01T00:00:00Z`, in UTC, whole seconds.
    static func iso8601(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : String(value) }
        return
            "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))"
            + "T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}

extension UsageOutcome {
    /// The stored answer of an accepted call, in a few bytes: `1;amount;limit;used;remaining;
    /// resetsAt ms;overage` (`~` for none). The customer and feature come back from the
    /// idempotency scope and fingerprint. Nil for an answer it cannot carry (a refusal, which
    /// is never stored anyway). The idempotency row is the heaviest write of a commit: its size
    /// sets how many a second one SQLite writer can take.
    public var compactRecord: String? {
        guard allowed, reason == nil, upgradeTier == nil else { return nil }
        func field(_ value: Int64?) -> String { value.map(String.init) ?? "~" }
        let resets = resetsAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
        return "1;\(amount);\(field(limit));\(used);\(field(remaining));\(field(resets));\(field(overage))"
    }

    /// Reads a `compactRecord` back; nil when `text` is not one.
    public init?(compactRecord text: String, customer: String, feature: String) {
        let fields = text.split(separator: ";", omittingEmptySubsequences: false)
        guard fields.count == 7, fields[0] == "1", let amount = Int64(fields[1]), let used = Int64(fields[3]) else {
            return nil
        }
        func optional(_ field: Substring) -> Int64?? {
            field == "~" ? .some(nil) : Int64(field).map { .some($0) }
        }
        guard let limit = optional(fields[2]), let remaining = optional(fields[4]), let resets = optional(fields[5]),
            let overage = optional(fields[6])
        else { return nil }
        self.init(
            allowed: true, customer: customer, feature: feature, amount: amount, limit: limit, used: used,
            remaining: remaining,
            resetsAt: resets.map { Date(timeIntervalSince1970: Double($0) / 1000) }, reason: nil, upgradeTier: nil,
            overage: overage
        )
    }
}
