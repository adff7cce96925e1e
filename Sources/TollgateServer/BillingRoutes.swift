import Foundation
import HTTPTypes
import Hummingbird
import TollgateBilling
import TollgateCore

/// `POST /v1/billing/webhook`: Stripe's events, authenticated by their signature (no API key).
struct BillingRoutes: Sendable {
    let webhooks: StripeWebhookService
    let subscriptions: SubscriptionService

    func register(on router: Router<TollgateRequestContext>) {
        router.post("v1/billing/webhook", use: webhook)
    }

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.post("billing/trial", use: startTrial)
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
