import Foundation
import TollgateCore

/// What one consume adds to the usage analytics: the customer billed (a workspace
/// pool's owner), the feature, the plan it was decided under, the units counted (0 when
/// refused) and, when refused, why and which plan would allow it. Appended with the consume's own
/// commit to the usage fact log, which `foldUsageFacts` turns into the daily and monthly rollups.
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
    /// Folds the usage facts the commits appended into the rollups (daily, monthly, the months'
    /// distributions), oldest first, one fold at a time across nodes; how many it folded. Every
    /// usage read folds first, so its answer counts every committed consume.
    @discardableResult
    func foldUsageFacts() async throws -> Int
    /// The usage rollup over the UTC days in [from, to), summed per customer, feature, plan and
    /// outcome.
    func usageTotals(from: Date, to: Date) async throws -> [UsageReport.Totals]
    /// The usage report's figures per feature and plan over the UTC days in [from, to), computed
    /// by the database: a calendar month from its distribution, another window from the daily
    /// rollup (`UsageReport.figures` is their reference).
    func usageFigures(from: Date, to: Date) async throws -> [UsageReport.Figures]
    /// Each customer's first refusal naming a plan to upgrade to, per feature and plan, in the window.
    func upgradePrompts(from: Date, to: Date) async throws -> [UsageReport.Prompt]
    /// Per feature and plan, the customers prompted to upgrade in [from, to) and how many of them
    /// moved to a plan ranked higher in `ladder` within 14 days of their first prompt, computed by
    /// the database (`UsageReport.conversions` is the reference).
    func upgradeConversions(from: Date, to: Date, ladder: [String: Int]) async throws -> [UsageReport.Conversion]
    /// Distinct (customer, UTC day) pairs with any consume or tracked event in [from, to).
    func activeDays(from: Date, to: Date) async throws -> [ActiveDay]
    /// Distinct customers per feature (consumes allowed) and per tracked event name in [from, to).
    func adoption(from: Date, to: Date) async throws -> [AdoptionCount]
    /// Every recorded state before `before`, oldest first per customer.
    func customerStates(before: Date) async throws -> [CustomerSeries.State]
    /// Customers created before `before`: id and creation time.
    func signUps(before: Date) async throws -> [(customerId: String, at: Date)]
}
