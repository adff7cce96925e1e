import Foundation
import TollgateCore

/// What one consume adds to the usage analytics (issue 13): the customer billed (a workspace
/// pool's owner), the feature, the plan it was decided under, the units counted (0 when
/// refused) and, when refused, why and which plan would allow it. Written with the consume's
/// own commit into the daily rollup (`usage_daily`).
public struct UsageFact: Sendable, Hashable {
    public let customerId: String
    public let feature: String
    public let planId: String
    public let units: Int64
    public let refusal: DenialReason?
    public let upgradeTier: String?

    public init(
        customerId: String, feature: String, planId: String, units: Int64, refusal: DenialReason? = nil,
        upgradeTier: String? = nil
    ) {
        self.customerId = customerId
        self.feature = feature
        self.planId = planId
        self.units = units
        self.refusal = refusal
        self.upgradeTier = upgradeTier
    }

    /// The rollup's outcome column: `allowed`, or the reason of the refusal.
    public var outcome: String { refusal?.rawValue ?? "allowed" }
}

/// One row of the daily usage rollup, summed over a window: a customer's use of a feature
/// under a plan, per outcome.
public struct UsageTotals: Sendable, Hashable {
    public let customerId: String
    public let feature: String
    public let planId: String
    /// `allowed`, or a `DenialReason` raw value.
    public let outcome: String
    public let units: Int64
    public let events: Int64
    /// The earliest refusal in the window that named a plan to upgrade to, if any.
    public let firstUpgradePromptAt: Date?
    public let upgradeTier: String?

    public init(
        customerId: String, feature: String, planId: String, outcome: String, units: Int64, events: Int64,
        firstUpgradePromptAt: Date?, upgradeTier: String?
    ) {
        self.customerId = customerId
        self.feature = feature
        self.planId = planId
        self.outcome = outcome
        self.units = units
        self.events = events
        self.firstUpgradePromptAt = firstUpgradePromptAt
        self.upgradeTier = upgradeTier
    }
}

/// A product event that is not metered (`POST /v1/track`): who, what, when, and a few
/// properties (as JSON). Recorded once per customer and idempotency key.
public struct TrackedEvent: Sendable, Hashable {
    public let customerId: String
    public let idempotencyKey: String
    public let name: String
    public let at: Date
    public let properties: String

    public init(customerId: String, idempotencyKey: String, name: String, at: Date, properties: String) {
        self.customerId = customerId
        self.idempotencyKey = idempotencyKey
        self.name = name
        self.at = at
        self.properties = properties
    }
}

/// A customer's plan and status from `at` on (until its next state).
public struct CustomerStateRecord: Sendable, Hashable {
    public let customerId: String
    public let at: Date
    public let planId: String
    public let status: CustomerStatus

    public init(customerId: String, at: Date, planId: String, status: CustomerStatus) {
        self.customerId = customerId
        self.at = at
        self.planId = planId
        self.status = status
    }
}

/// Who was active on which UTC day, from consumes and tracked events alike.
public struct ActiveDay: Sendable, Hashable {
    public let customerId: String
    public let day: Date

    public init(customerId: String, day: Date) {
        self.customerId = customerId
        self.day = day
    }
}

/// How many distinct customers used a feature (a consume allowed) or sent an event in a window.
public struct AdoptionCount: Sendable, Hashable {
    public enum Source: String, Sendable { case feature, event }
    public let name: String
    public let source: Source
    public let customers: Int

    public init(name: String, source: Source, customers: Int) {
        self.name = name
        self.source = source
        self.customers = customers
    }
}

public protocol AnalyticsStore: Sendable {
    /// Records each event whose (customer, idempotency key) is new, with its day in the activity
    /// rollup, in one transaction; per event, whether it was new. A customer that does not exist
    /// refuses the whole batch (`DomainError` naming `events[i].customer`).
    func track(_ events: [TrackedEvent], receivedAt: Date) async throws -> [Bool]
    /// The usage rollup over the UTC days in [from, to), summed per customer, feature, plan and
    /// outcome.
    func usageTotals(from: Date, to: Date) async throws -> [UsageTotals]
    /// The usage report's figures per feature and plan over the UTC days in [from, to), computed
    /// by the database from the rollup (`UsageReport.figures` is their reference).
    func usageFigures(from: Date, to: Date) async throws -> [UsageReport.Figures]
    /// Each customer's first refusal naming a plan to upgrade to, per feature and plan, in the window.
    func upgradePrompts(from: Date, to: Date) async throws -> [UsageReport.Prompt]
    /// The states, before `before`, of the customers prompted to upgrade in [from, to).
    func statesOfPromptedCustomers(from: Date, to: Date, before: Date) async throws -> [CustomerStateRecord]
    /// Distinct (customer, UTC day) pairs with any consume or tracked event in [from, to).
    func activeDays(from: Date, to: Date) async throws -> [ActiveDay]
    /// Distinct customers per feature (consumes allowed) and per tracked event name in [from, to).
    func adoption(from: Date, to: Date) async throws -> [AdoptionCount]
    /// Every recorded state before `before`, oldest first per customer.
    func customerStates(before: Date) async throws -> [CustomerStateRecord]
    /// Customers created before `before`: id and creation time.
    func signUps(before: Date) async throws -> [(customerId: String, at: Date)]
}
