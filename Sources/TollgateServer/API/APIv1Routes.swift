import Foundation
import HTTPTypes
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage

/// API v1 for the product's backend (secret API key).
struct APIv1Routes: Sendable {
    let service: Meter
    let clock: any TollgateClock
    var metrics: TollgateMetrics?

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.customersWrite)
            .post("customers", use: createCustomer)
            .put("customers/{id}/plan", use: changePlan)
        v1.requiring(.entitlementsRead)
            .get("customers/{id}", use: getCustomer)
            .get("customers/{id}/entitlements", use: entitlements)
            .get("customers/{id}/usage", use: usageHistory)
            .post("check", use: check)
        v1.requiring(.usageWrite)
            .post("consume", use: consume)
            .post("release", use: release)
    }

    @Sendable func createCustomer(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let body = try await request.decode(as: CreateCustomerRequest.self, context: context)
        let id = try Validate.identifier(body.id, field: "id")
        let email = try Validate.email(body.email)
        let (customer, created) = try await service.customers.createCustomer(
            id: id, email: email, name: body.name, locale: try Validate.locale(body.locale))
        if !created { context.audit.skip() }
        return EditedResponse(status: created ? .created : .ok, response: CustomerResponse(customer))
    }

    @Sendable func getCustomer(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        return EditedResponse(status: .ok, response: CustomerResponse(try await service.customers.customer(id: id)))
    }

    @Sendable func changePlan(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        let body = try await request.decode(as: ChangePlanRequest.self, context: context)
        let plan = try Validate.identifier(body.plan, field: "plan")
        var purchases: CustomerDirectory.Purchases?
        if body.addOns != nil || body.seats != nil {
            let seats = try body.seats.map { seats -> Int in
                guard (1...1_000_000).contains(seats.value) else {
                    throw DomainError.invalidField("seats", "must be from 1 to 1000000")
                }
                return Int(seats.value)
            }
            purchases = .init(addOns: (body.addOns ?? [:]).mapValues { Int(clamping: $0.value) }, seats: seats)
        }
        let customer = try await service.customers.changePlan(customerId: id, planId: plan, purchases: purchases)
        return EditedResponse(status: .ok, response: CustomerResponse(customer))
    }

    @Sendable func entitlements(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        return EditedResponse(
            status: .ok, response: EntitlementsResponse(try await service.entitlements(customerId: id)))
    }

    @Sendable func usageHistory(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        let (from, to) = try QueryDate.range(request, now: clock.now())
        let rows = try await service.usageHistory(customerId: id, from: from, to: to)
        let usage = rows.map(UsagePeriodResponse.init)
        return EditedResponse(
            status: .ok, response: UsageHistoryResponse(customer: id, from: from, to: to, usage: usage))
    }

    @Sendable func check(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: CheckRequest.self, context: context)
        let outcome = try await service.check(
            customerId: try Validate.identifier(body.customer, field: "customer"),
            featureId: try Validate.identifier(body.feature, field: "feature"), amount: body.amount?.value ?? 1,
            workspaceId: try Validate.optionalIdentifier(body.workspace, field: "workspace")
        )
        return UsageAnswer(outcome)
    }

    @Sendable func consume(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let change = try await usageChange(request, context: context)
        let outcome = try await service.consume(
            customerId: change.customer, featureId: change.feature, amount: change.amount,
            idempotencyKey: change.idempotencyKey,
            workspaceId: change.workspace
        )
        metrics?.consume(allowed: outcome.allowed, reason: outcome.reason?.rawValue)
        guard outcome.allowed else { throw UsageRefusal(outcome) }
        return UsageAnswer(outcome)
    }

    @Sendable func release(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let change = try await usageChange(request, context: context)
        let outcome = try await service.release(
            customerId: change.customer, featureId: change.feature, amount: change.amount,
            idempotencyKey: change.idempotencyKey
        )
        return UsageAnswer(outcome)
    }

    private struct UsageChange {
        let customer: String
        let feature: String
        let amount: Int64
        let idempotencyKey: String
        let workspace: String?
    }

    /// The idempotency key comes in the body, as on every other mutating route.
    private func usageChange(_ request: Request, context: AuthenticatedContext) async throws -> UsageChange {
        let body = try await request.decode(as: UsageChangeRequest.self, context: context)
        guard let key = body.idempotencyKey else { throw DomainError.missingField("idempotencyKey") }
        return UsageChange(
            customer: try Validate.identifier(body.customer, field: "customer"),
            feature: try Validate.identifier(body.feature, field: "feature"),
            amount: body.amount?.value ?? 1,
            idempotencyKey: try Validate.identifier(key, field: "idempotencyKey"),
            workspace: try Validate.optionalIdentifier(body.workspace, field: "workspace")
        )
    }
}

/// Dates in query strings: `2026-05-01` or a full ISO 8601 timestamp, in UTC.
enum QueryDate {
    /// `from` and `to` of a history query; by default the last twelve months, this one included.
    static func range(_ request: Request, now: Date) throws -> (from: Date, to: Date) {
        let thisMonth = PeriodMath.window(.monthly, containing: now, anchor: now)
        let from =
            try parse(request.uri.queryParameters.get("from"), field: "from")
            ?? PeriodMath.utcCalendar.date(byAdding: .month, value: -11, to: thisMonth.start)!
        let to = try parse(request.uri.queryParameters.get("to"), field: "to") ?? thisMonth.end!
        guard from < to else { throw HTTPOnlyError(.invalidQuery, "from must be before to", field: "from") }
        return (from, to)
    }

    static func parse(_ value: String?, field: String) throws -> Date? {
        guard let value else { return nil }
        if let date = RFC3339.date(value) ?? RFC3339.day(value) { return date }
        throw HTTPOnlyError(
            .invalidQuery, "\(field): expected a date such as 2026-05-01 or 2026-05-01T00:00:00Z", field: field)
    }
}
