import Foundation
import HTTPTypes
import Hummingbird
import TollgateBilling
import TollgateCore

/// `POST /v1/billing/webhook`: Stripe's events, authenticated by their signature (no API key).
struct BillingRoutes: Sendable {
    let webhooks: StripeWebhookService

    func register(on router: Router<TollgateRequestContext>) {
        router.post("v1/billing/webhook", use: webhook)
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
