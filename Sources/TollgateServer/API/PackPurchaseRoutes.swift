import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateMeter
import TollgateStorage

/// Credit packs sold on the customer's invoice (the manual provider; with Stripe, Checkout sells
/// them): the credits granted now, the pack charged on the next invoice.
struct PackPurchaseRoutes: Sendable {
    let credits: CreditService
    let invoices: InvoiceService
    let catalog: Catalog

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
        guard let pack = catalog.creditPacks.first(where: { $0.id == body.pack }) else {
            throw DomainError.invalidField("pack", "no credit pack \(body.pack) in the catalog")
        }
        let code = body.currency ?? pack.prices.first?.currency.code ?? "EUR"
        guard let price = pack.prices.first(where: { $0.currency.code == code }) else {
            throw DomainError.invalidField("currency", "the pack is not priced in \(code)")
        }
        let key = try Validate.identifier(body.idempotencyKey, field: "idempotencyKey")
        // Both are idempotent on the key: a retry after a failure between them completes the other.
        _ = try await credits.grant(
            customerId: customer, amount: pack.amount, creditType: pack.creditType, expiresAt: nil, priority: 0,
            reason: .purchase, reference: pack.id, idempotencyKey: "pack-on-invoice:" + key)
        let (item, created) = try await invoices.addItem(
            customer: customer, description: "\(pack.name) (credit pack)", quantity: 1,
            unitAmount: price.amount, currency: price.currency, idempotencyKey: key, kind: .creditPack)
        return EditedResponse(
            status: created ? .created : .ok,
            response: Purchase(
                customer: customer, pack: pack.id, creditType: pack.creditType, credits: pack.amount,
                amount: item.amount.amountMinor, currency: item.amount.currency.code, invoiceItem: item.id))
    }
}
