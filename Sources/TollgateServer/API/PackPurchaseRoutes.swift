import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Credit packs sold on the customer's invoice (the manual provider; with Stripe, Checkout sells
/// them): the credits granted now, the pack charged on the next invoice.
struct PackPurchaseRoutes: Sendable {
    let billing: Billing

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.billingWrite).post("customers/{id}/credit-packs", use: buy)
    }

    struct Body: Decodable {
        let pack: String
        let currency: String?
        let idempotencyKey: String
    }

    struct Purchase: ResponseEncodable {
        let customer: String
        let pack: String
        let creditType: String
        let credits: Int64
        let amount: Int64
        let currency: String
        let invoiceItem: String
    }

    @Sendable func buy(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let customer = try Validate.pathIdentifier(context)
        let body = try await request.decode(as: Body.self, context: context)
        let currency = try body.currency.map { code in
            try Currency(code).orThrow(.invalidField("currency", "not an ISO 4217 currency code"))
        }
        let order = PackOrder(
            customer: customer, packId: body.pack, currency: currency,
            idempotencyKey: try Validate.identifier(body.idempotencyKey, field: "idempotencyKey"))
        let sale = try BillingRoutes.made(try await billing.sellCreditPack(order, via: .manual, returnTo: nil))
        let (pack, item) = (sale.pack, sale.item)
        return EditedResponse(
            status: sale.created ? .created : .ok,
            response: Purchase(
                customer: customer, pack: pack.id, creditType: pack.creditType, credits: pack.amount,
                amount: item.amount.amountMinor, currency: item.amount.currency.code, invoiceItem: item.id))
    }
}
