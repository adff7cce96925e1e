import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateStorage
import TollgateWeb

/// The console's forms on one of Tollgate's own invoices (finalize, mark paid, void, credit),
/// through the service the API uses; each leads back to the customer's page with a notice.
extension ConsolePages {
    func invoiceAction(_ transition: InvoiceStatus.Transition, _ request: Request, _ context: ConsoleContext)
        async throws -> Response
    {
        let id = try Validate.pathIdentifier(context)
        let after = try await InvoiceActions.apply(
            transition, to: id, invoices: invoices, subscriptions: subscriptions)
        return ConsoleRequest.seeOther(
            "/console/customers/\(Paths.segment(after.subject))?notice=invoice_\(after.status.rawValue)")
    }

    /// A credit note for what is left to credit on the invoice, for the reason chosen; the form's
    /// key makes a second submission return the first note.
    @Sendable func issueCreditNote(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let form = try await FormFields.read(request, context: context)
        let reason = try form.required("reason")
        guard CreditNoting.reasons.contains(reason) else {
            throw DomainError.invalidField(
                "reason", "the reason must be one of \(CreditNoting.reasons.joined(separator: ", "))")
        }
        let key = try Validate.identifier(try form.required("key"), field: "key")
        context.audit.once(key)
        _ = try await invoices.creditNote(
            invoice: id, requested: nil, reason: reason, memo: nil, idempotencyKey: "console:" + key)
        let invoice = try await invoices.invoice(id: id)
        return ConsoleRequest.seeOther(
            "/console/customers/\(Paths.segment(invoice.subject))?notice=credit_note_issued")
    }
}
