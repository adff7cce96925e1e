import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage

/// Spend caps on overage and the upcoming invoice.
struct InvoiceRoutes: Sendable {
    let service: Meter
    let invoices: InvoiceService

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.customersWrite)
            .put("customers/{id}/spend-cap", use: setSpendCap)
            .delete("customers/{id}/spend-cap", use: removeSpendCap)
        v1.requiring(.entitlementsRead)
            .get("customers/{id}/invoices/upcoming", use: upcoming)
    }

    struct SpendCapRequest: Decodable {
        let amount: WholeNumber
        let currency: String
    }

    struct SpendCapResponse: Encodable {
        let customer: String
        @NullEncoded var spendCap: MoneyResponse?
    }

    @Sendable func setSpendCap(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        let body = try await request.decode(as: SpendCapRequest.self, context: context)
        guard let currency = Currency(body.currency) else {
            throw DomainError.invalidField("currency", "not an ISO 4217 currency code")
        }
        guard (0...1_000_000_000_000).contains(body.amount.value) else {
            throw DomainError.invalidField("amount", "must be a whole number of minor units from 0 to 1000000000000")
        }
        let customer = try await service.customers.setSpendCap(customerId: id, cap: Money(body.amount.value, currency))
        return EditedResponse(
            status: .ok,
            response: SpendCapResponse(customer: customer.id, spendCap: customer.spendCap.map(MoneyResponse.init)))
    }

    @Sendable func removeSpendCap(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        let customer = try await service.customers.setSpendCap(customerId: id, cap: nil)
        return EditedResponse(status: .ok, response: SpendCapResponse(customer: customer.id, spendCap: nil))
    }

    struct LineResponse: Encodable {
        let kind: String
        let description: String
        let quantity: Int64
        @NullEncoded var unitAmount: Int64?
        let amount: Int64
        @NullEncoded var feature: String?

        init(_ line: InvoiceLine) {
            kind = line.kind.rawValue
            description = line.description
            quantity = line.quantity
            unitAmount = line.unitAmount
            amount = line.amount
            feature = line.feature
        }
    }

    struct InvoiceResponse: Encodable {
        @NullEncoded var id: String?
        let customer: String
        @NullEncoded var subscription: String?
        let currency: String
        @NullEncoded var periodStart: Date?
        @NullEncoded var periodEnd: Date?
        let lines: [LineResponse]
        let total: Int64
        @NullEncoded var issuedAt: Date?
    }

    @Sendable func upcoming(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        let draft = try await invoices.upcoming(subject: id)
        return EditedResponse(
            status: .ok,
            response: InvoiceResponse(
                id: nil, customer: id, subscription: draft.subscriptionId, currency: draft.currency.code,
                periodStart: draft.periodStart,
                periodEnd: draft.periodEnd, lines: draft.lines.map(LineResponse.init), total: draft.total, issuedAt: nil
            ))
    }
}
