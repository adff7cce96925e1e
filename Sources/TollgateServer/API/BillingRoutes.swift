import Foundation
import HTTPTypes
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateIdentity

/// `POST /v1/billing/webhook`: Stripe's events, authenticated by their signature (no API key).
struct BillingRoutes: Sendable {
    let webhooks: StripeWebhookService
    let subscriptions: SubscriptionService
    let billing: Billing
    let stripe: StripeBilling

    func register(on router: Router<TollgateRequestContext>) {
        router.post("v1/billing/webhook", use: webhook)
    }

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.billingWrite)
            .post("billing/trial", use: startTrial)
            .post("billing/checkout", use: checkout)
            .post("billing/portal", use: portal)
            .post("billing/cancel", use: cancel)
            .post("billing/subscriptions", use: subscribe)
            .post("billing/change-plan", use: changePlan)
        v1.requiring(.entitlementsRead)
            .get("customers/{id}/subscriptions", use: listSubscriptions)
    }

    struct SubscriptionList: Encodable {
        let customer: String
        let subscriptions: [SubscriptionResponse]
    }

    /// Every subscription of a customer (or workspace), oldest first, with its provider.
    @Sendable func listSubscriptions(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let customer = try Validate.pathIdentifier(context)
        let all = try await subscriptions.subscriptions(of: customer)
        return EditedResponse(
            status: .ok,
            response: SubscriptionList(
                customer: customer, subscriptions: all.map { SubscriptionResponse($0.0, provider: $0.provider) }))
    }

    struct CheckoutRequest: Decodable {
        let customer: String
        let plan: String
        let interval: String?
        let currency: String?
        let seats: WholeNumber?
        let addOns: [String: WholeNumber]?
        let successUrl: String
        let cancelUrl: String
        let idempotencyKey: String
    }

    struct PortalRequest: Decodable {
        let customer: String
        let returnUrl: String
    }

    struct CancelRequest: Decodable {
        let customer: String
        let atPeriodEnd: Bool?
    }

    struct URLResponse: Encodable {
        @NullEncoded var id: String?
        let url: String

        init(id: String?, url: String) {
            self.id = id
            self.url = url
        }

        /// The provider's page a sale waits on.
        init<Made>(_ sale: Sale<Made>) throws {
            guard case .onProviderPage(let id, let url) = sale else {
                throw DomainError(.conflict, "the sale was made without the provider's page")
            }
            self.init(id: id, url: url)
        }
    }

    static func url(_ raw: String, field: String) throws -> String {
        guard raw.utf8.count <= 2048, let components = URLComponents(string: raw),
            ["https", "http"].contains(components.scheme ?? ""), components.host != nil
        else {
            throw DomainError.invalidField(field, "expected an absolute http(s) URL")
        }
        return raw
    }

    @Sendable func checkout(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: CheckoutRequest.self, context: context)
        let (interval, currency, seats) = try Self.terms(
            interval: body.interval, currency: body.currency, seats: body.seats)
        let order = PlanOrder(
            customer: try Validate.identifier(body.customer, field: "customer"),
            planId: try Validate.identifier(body.plan, field: "plan"), interval: interval, currency: currency,
            seats: seats, addOns: try Self.addOns(body.addOns),
            idempotencyKey: try Validate.identifier(body.idempotencyKey, field: "idempotencyKey"))
        let pages = ReturnPages(
            success: try Self.url(body.successUrl, field: "successUrl"),
            cancel: try Self.url(body.cancelUrl, field: "cancelUrl"))
        return EditedResponse(
            status: .created, response: try URLResponse(try await billing.start(order, via: .stripe, returnTo: pages)))
    }

    /// A subscription's billing interval (monthly by default), currency (EUR) and seats, checked.
    static func terms(interval: String?, currency: String?, seats: WholeNumber?) throws -> (
        BillingInterval, Currency, Int?
    ) {
        guard let billingInterval = BillingInterval(rawValue: interval ?? "month") else {
            throw DomainError.invalidField("interval", "expected month or year")
        }
        guard let code = Currency(currency ?? "EUR") else {
            throw DomainError.invalidField("currency", "not an ISO 4217 currency code")
        }
        let count = try seats.map { seats -> Int in
            guard (1...1_000_000).contains(seats.value) else {
                throw DomainError.invalidField("seats", "must be from 1 to 1000000")
            }
            return Int(seats.value)
        }
        return (billingInterval, code, count)
    }

    static func addOns(_ raw: [String: WholeNumber]?) throws -> [String: Int] {
        var addOns: [String: Int] = [:]
        for (id, quantity) in raw ?? [:] {
            guard (0...10_000).contains(quantity.value) else {
                throw DomainError.invalidField("addOns.\(id)", "quantity must be from 0 to 10000")
            }
            addOns[try Validate.identifier(id, field: "addOns")] = Int(quantity.value)
        }
        return addOns
    }

    @Sendable func portal(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: PortalRequest.self, context: context)
        let url = try await stripe.portal(
            customerId: try Validate.identifier(body.customer, field: "customer"),
            returnURL: try Self.url(body.returnUrl, field: "returnUrl"))
        return EditedResponse(status: .created, response: URLResponse(id: nil, url: url))
    }

    /// Cancels the customer's live subscription, whichever provider runs it.
    @Sendable func cancel(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: CancelRequest.self, context: context)
        let customer = try Validate.identifier(body.customer, field: "customer")
        let atPeriodEnd = body.atPeriodEnd ?? true
        // Stripe's answer comes back by webhook: the trail records what was asked.
        let (live, canceled, provider) = try await billing.cancel(customer: customer, atPeriodEnd: atPeriodEnd)
        context.audit.subscription(live, canceled, provider: provider.rawValue)
        return EditedResponse(
            status: .ok, response: ["subscription": live.id, "cancel": atPeriodEnd ? "at_period_end" : "now"])
    }

    struct SubscribeRequest: Decodable {
        let customer: String
        let plan: String
        let interval: String?
        let currency: String?
        let seats: WholeNumber?
        let idempotencyKey: String
    }

    /// A subscription invoiced by hand (the manual provider).
    @Sendable func subscribe(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: SubscribeRequest.self, context: context)
        let (interval, currency, seats) = try Self.terms(
            interval: body.interval, currency: body.currency, seats: body.seats)
        let order = PlanOrder(
            customer: try Validate.identifier(body.customer, field: "customer"),
            planId: try Validate.identifier(body.plan, field: "plan"), interval: interval, currency: currency,
            seats: seats, idempotencyKey: try Validate.identifier(body.idempotencyKey, field: "idempotencyKey"))
        let subscription = try Self.made(try await billing.provider(.manual).subscribe(order, returnTo: nil))
        return EditedResponse(
            status: .created,
            response: SubscriptionResponse(subscription, provider: PaymentProviderKind.manual.rawValue))
    }

    /// What the manual provider made (it has no page of its own to wait on).
    static func made<Made>(_ sale: Sale<Made>) throws -> Made {
        guard case .made(let made) = sale else {
            throw DomainError(.conflict, "the sale waits on the provider's page")
        }
        return made
    }

    struct ChangePlanRequest: Decodable {
        let customer: String
        let plan: String
        let idempotencyKey: String
    }

    struct PlanChangeResponse: Encodable {
        let subscription: SubscriptionResponse
        /// `now` for an upgrade, `period_end` for a downgrade.
        let effective: String
        @NullEncoded var proration: MoneyResponse?
    }

    /// Upgrades at once (prorated), downgrades at the end of the period, on either provider.
    @Sendable func changePlan(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator
    {
        let body = try await request.decode(as: ChangePlanRequest.self, context: context)
        let customer = try Validate.identifier(body.customer, field: "customer")
        let plan = try Validate.identifier(body.plan, field: "plan")
        let key = try Validate.identifier(body.idempotencyKey, field: "idempotencyKey")
        let (live, change, provider) = try await billing.changePlan(customer: customer, to: plan, idempotencyKey: key)
        let (changed, proration) = (change.subscription, change.proration)
        context.audit.subscription(live, changed, provider: provider.rawValue)
        context.audit.once(key)
        return EditedResponse(
            status: .ok,
            response: PlanChangeResponse(
                subscription: SubscriptionResponse(changed, provider: provider.rawValue),
                effective: changed.pendingPlanId == nil ? "now" : "period_end",
                proration: proration.map(MoneyResponse.init)
            ))
    }

    struct TrialRequest: Decodable {
        let customer: String
        let plan: String
        let interval: String?
        let currency: String?
    }

    /// Starts a plan's trial through the manual provider (once per customer).
    @Sendable func startTrial(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator
    {
        let body = try await request.decode(as: TrialRequest.self, context: context)
        let (interval, currency, _) = try Self.terms(interval: body.interval, currency: body.currency, seats: nil)
        let customer = try Validate.identifier(body.customer, field: "customer")
        // A trial is once per customer: the customer is the key.
        let order = PlanOrder(
            customer: customer, planId: try Validate.identifier(body.plan, field: "plan"), interval: interval,
            currency: currency, idempotencyKey: "trial-" + customer)
        let subscription = try Self.made(try await billing.startTrial(order, via: .manual, returnTo: nil))
        return EditedResponse(
            status: .created,
            response: SubscriptionResponse(subscription, provider: PaymentProviderKind.manual.rawValue))
    }

    struct Received: Encodable {
        let received: Bool
        let outcome: String
    }

    @Sendable func webhook(_ request: Request, context: TollgateRequestContext) async throws -> some ResponseGenerator {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: JSONBody.maximumBytes)
        } catch {
            throw HTTPOnlyError(.payloadTooLarge, "request body is larger than \(JSONBody.maximumBytes) bytes")
        }
        let outcome = try await webhooks.handle(
            payload: Data(body.readableBytesView), signature: request.headers[HTTPField.Name("Stripe-Signature")!])
        return EditedResponse(status: .ok, response: Received(received: true, outcome: outcome.rawValue))
    }
}
