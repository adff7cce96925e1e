import Foundation
import HTTPTypes
import Hummingbird
import TollgateBilling
import TollgateCore

/// `POST /v1/billing/webhook`: Stripe's events, authenticated by their signature (no API key).
struct BillingRoutes: Sendable {
    let webhooks: StripeWebhookService
    let subscriptions: SubscriptionService
    let stripe: StripeBilling

    func register(on router: Router<TollgateRequestContext>) {
        router.post("v1/billing/webhook", use: webhook)
    }

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.post("billing/trial", use: startTrial)
        v1.post("billing/checkout", use: checkout)
        v1.post("billing/portal", use: portal)
        v1.post("billing/cancel", use: cancel)
    }

    struct CheckoutRequest: Decodable {
        let customer: String
        let plan: String
        let interval: String?
        let currency: String?
        let seats: WholeNumber?
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
    }

    static func url(_ raw: String, field: String) throws -> String {
        guard raw.utf8.count <= 2048, let components = URLComponents(string: raw), ["https", "http"].contains(components.scheme ?? ""), components.host != nil else {
            throw DomainError.invalidField(field, "expected an absolute http(s) URL")
        }
        return raw
    }

    @Sendable func checkout(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.caller.require(.billingWrite)
        let body = try await JSONBody.decode(CheckoutRequest.self, from: request, context: context)
        guard let interval = BillingInterval(rawValue: body.interval ?? "month") else { throw DomainError.invalidField("interval", "expected month or year") }
        guard let currency = Currency(body.currency ?? "EUR") else { throw DomainError.invalidField("currency", "not an ISO 4217 currency code") }
        let seats = try body.seats.map { seats -> Int in
            guard (1...1_000_000).contains(seats.value) else { throw DomainError.invalidField("seats", "must be from 1 to 1000000") }
            return Int(seats.value)
        }
        let session = try await stripe.checkout(
            customerId: try Validate.identifier(body.customer, field: "customer"), planId: try Validate.identifier(body.plan, field: "plan"),
            interval: interval, currency: currency, seats: seats,
            successURL: try Self.url(body.successUrl, field: "successUrl"), cancelURL: try Self.url(body.cancelUrl, field: "cancelUrl"),
            idempotencyKey: try Validate.identifier(body.idempotencyKey, field: "idempotencyKey")
        )
        return JSONResponse.make(status: .created, body: URLResponse(id: session.id, url: session.url))
    }

    @Sendable func portal(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.caller.require(.billingWrite)
        let body = try await JSONBody.decode(PortalRequest.self, from: request, context: context)
        let url = try await stripe.portal(customerId: try Validate.identifier(body.customer, field: "customer"), returnURL: try Self.url(body.returnUrl, field: "returnUrl"))
        return JSONResponse.make(status: .created, body: URLResponse(id: nil, url: url))
    }

    @Sendable func cancel(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.caller.require(.billingWrite)
        let body = try await JSONBody.decode(CancelRequest.self, from: request, context: context)
        let subscription = try await stripe.cancel(customerId: try Validate.identifier(body.customer, field: "customer"), atPeriodEnd: body.atPeriodEnd ?? true)
        return JSONResponse.make(status: .ok, body: ["subscription": subscription.id, "cancel": (body.atPeriodEnd ?? true) ? "at_period_end" : "now"])
    }

    struct TrialRequest: Decodable {
        let customer: String
        let plan: String
        let interval: String?
        let currency: String?
    }

    /// Starts a plan's trial through the manual provider (once per customer).
    @Sendable func startTrial(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.caller.require(.billingWrite)
        let body = try await JSONBody.decode(TrialRequest.self, from: request, context: context)
        guard let interval = BillingInterval(rawValue: body.interval ?? "month") else { throw DomainError.invalidField("interval", "expected month or year") }
        guard let currency = Currency(body.currency ?? "EUR") else { throw DomainError.invalidField("currency", "not an ISO 4217 currency code") }
        let subscription = try await subscriptions.startTrial(
            customerId: try Validate.identifier(body.customer, field: "customer"), planId: try Validate.identifier(body.plan, field: "plan"),
            interval: interval, currency: currency
        )
        return JSONResponse.make(status: .created, body: SubscriptionResponse(subscription))
    }

    struct Received: Encodable {
        let received: Bool
        let outcome: String
    }

    @Sendable func webhook(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: JSONBody.maximumBytes)
        } catch {
            throw DomainError(.payloadTooLarge, "request body is larger than \(JSONBody.maximumBytes) bytes")
        }
        let outcome = try await webhooks.handle(payload: Data(body.readableBytesView), signature: request.headers[HTTPField.Name("Stripe-Signature")!])
        return JSONResponse.make(status: .ok, body: Received(received: true, outcome: outcome.rawValue))
    }
}
