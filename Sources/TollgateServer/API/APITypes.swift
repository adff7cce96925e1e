import Foundation
import TollgateCore
import TollgateMeter
import TollgateStorage

// Request bodies. Validation that JSON types cannot express happens in the handlers, with the
// field named in the error.

struct CreateCustomerRequest: Decodable {
    let id: String
    let email: String?
    let name: String?
    let locale: String?
}

struct ChangePlanRequest: Decodable {
    let plan: String
    /// Add-on quantities by id; replaces what the customer had.
    let addOns: [String: WholeNumber]?
    /// Seats bought, for plans priced per seat.
    let seats: WholeNumber?
}

struct CheckRequest: Decodable {
    let customer: String
    let feature: String
    let amount: WholeNumber?
    let workspace: String?
}

struct UsageChangeRequest: Decodable {
    let customer: String
    let feature: String
    let amount: WholeNumber?
    let idempotencyKey: String?
    let workspace: String?
}

// Responses.

struct CustomerResponse: Encodable {
    let id: String
    @NullEncoded var email: String?
    @NullEncoded var name: String?
    let plan: String
    let billingAnchor: Date
    let createdAt: Date
    let addOns: [String: Int]
    @NullEncoded var seats: Int?
    @NullEncoded var locale: String?

    init(_ record: CustomerRecord) {
        locale = record.locale
        addOns = record.addOns
        seats = record.seats
        id = record.id
        email = record.email
        name = record.name
        plan = record.planId
        billingAnchor = record.billingAnchor
        createdAt = record.createdAt
    }
}

struct PlanSummary: Encodable {
    let id: String
    let name: String
}

struct FeatureEntitlementResponse: Encodable {
    let feature: String
    let name: String
    let type: String
    let included: Bool
    @NullEncoded var limit: Int64?
    @NullEncoded var used: Int64?
    @NullEncoded var remaining: Int64?
    @NullEncoded var period: String?
    @NullEncoded var resetsAt: Date?

    init(_ entitlement: FeatureEntitlement) {
        let quota = entitlement.quota
        feature = entitlement.feature.id
        name = entitlement.feature.name
        type = entitlement.feature.type.rawValue
        included = quota.included
        limit = quota.limit?.value
        used = quota.isCounted ? entitlement.used : nil
        remaining = quota.isCounted ? entitlement.remaining : nil
        period = quota.period?.rawValue
        resetsAt = quota.resetsAt
    }
}

struct EntitlementsResponse: Encodable {
    let customer: String
    let plan: PlanSummary
    let features: [FeatureEntitlementResponse]

    init(_ entitlements: CustomerEntitlements) {
        customer = entitlements.customerId
        plan = PlanSummary(id: entitlements.plan.id, name: entitlements.plan.name)
        features = entitlements.features.map(FeatureEntitlementResponse.init)
    }
}

struct UsagePeriodResponse: Encodable {
    let feature: String
    let period: String
    let periodStart: Date
    @NullEncoded var periodEnd: Date?
    let used: Int64

    init(_ row: UsageRow) {
        feature = row.feature
        period = row.period
        periodStart = row.periodStart
        periodEnd = row.periodEnd
        used = row.used
    }
}

struct UsageHistoryResponse: Encodable {
    let customer: String
    let from: Date
    let to: Date
    let usage: [UsagePeriodResponse]
}

/// A refused consume: the outcome's fields plus the standard error envelope.
struct RefusedOutcomeResponse: Encodable {
    let outcome: UsageOutcome
    let error: ErrorBody

    private enum CodingKeys: String, CodingKey { case error }

    func encode(to encoder: any Encoder) throws {
        try outcome.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(error, forKey: .error)
    }
}

struct HealthResponse: Encodable {
    let status: String
    let database: String
}

/// An amount of money as the API shows it: integer minor units and the ISO currency.
struct MoneyResponse: Encodable {
    let amount: Int64
    let currency: String

    init(_ money: Money) {
        amount = money.amountMinor
        currency = money.currency.code
    }
}
