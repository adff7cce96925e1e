import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage

/// What a signed-in end user sees of their own plan and usage.
struct MeRoutes: Sendable {
    let service: Meter
    let store: any ReadModel
    let clock: any TollgateClock

    func register(on me: RouterGroup<UserContext>) {
        me.get("me/entitlements", use: entitlements)
        me.get("me/usage/current", use: currentUsage)
        me.get("me/usage/history", use: usageHistory)
        me.get("me/subscription", use: subscription)
    }

    @Sendable func entitlements(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        EditedResponse(
            status: .ok, response: EntitlementsResponse(try await service.entitlements(customerId: context.user.userId))
        )
    }

    /// Only what is counted, with progress for usage meters ("Pro: 12/200 auto tags").
    @Sendable func currentUsage(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let entitlements = try await service.entitlements(customerId: context.user.userId)
        let meters = entitlements.features.filter { $0.quota.isCounted && $0.quota.included }.map(UsageMeter.init)
        return EditedResponse(status: .ok, response: CurrentUsageResponse(plan: entitlements.plan.id, usage: meters))
    }

    @Sendable func usageHistory(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let (from, to) = try QueryDate.range(request, now: clock.now())
        let rows = try await service.usageHistory(customerId: context.user.userId, from: from, to: to)
        let usage = rows.map(UsagePeriodResponse.init)
        return EditedResponse(
            status: .ok, response: UsageHistoryResponse(customer: context.user.userId, from: from, to: to, usage: usage)
        )
    }

    /// The user's subscription that matters now (the newest), or null on the free plan.
    @Sendable func subscription(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let customer = try await service.customers.customer(id: context.user.userId)
        let current = try await store.subscriptions(subject: context.user.userId).max {
            $0.0.currentPeriodStart < $1.0.currentPeriodStart
        }
        return EditedResponse(
            status: .ok,
            response: MySubscriptionResponse(
                plan: customer.planId, subscription: current.map { SubscriptionResponse($0.0, provider: $0.provider) }))
    }
}

struct UsageMeter: Encodable {
    let feature: String
    let name: String
    @NullEncoded var limit: Int64?
    let used: Int64
    @NullEncoded var remaining: Int64?
    /// Whole percent of the limit used; null when unlimited.
    @NullEncoded var percentUsed: Int?
    @NullEncoded var resetsAt: Date?

    init(_ entitlement: FeatureEntitlement) {
        feature = entitlement.feature.id
        name = entitlement.feature.name
        limit = entitlement.quota.limit?.value
        used = entitlement.used
        remaining = entitlement.remaining
        percentUsed = limit.map { $0 == 0 ? 100 : Int(min(100, entitlement.used * 100 / $0)) }
        resetsAt = entitlement.quota.resetsAt
    }
}

struct CurrentUsageResponse: Encodable {
    let plan: String
    let usage: [UsageMeter]
}

/// A subscription as the API answers it (and the audit trail records it).
typealias SubscriptionResponse = SubscriptionSnapshot

struct MySubscriptionResponse: Encodable {
    let plan: String
    @NullEncoded var subscription: SubscriptionResponse?
}
