import Foundation
import TollgateBilling
import TollgateDocuments
import TollgateNotify
import TollgateStorage

/// The invoice e-mail carries the invoice's PDF, rendered when it is sent; so
/// does the receipt, the PDF then marked paid.
enum InvoiceMail {
    static func attachments(of message: OutboxMessage, invoices: InvoiceService, documents: DocumentRenderer)
        async throws -> [MailMessage.Attachment]
    {
        guard ["email.invoice_issued", "email.invoice_paid"].contains(message.kind),
            let payload = try? JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: Any],
            let id = (payload["data"] as? [String: Any])?["invoiceId"] as? String
        else { return [] }
        let invoice = try await invoices.invoice(id: id)
        return [
            MailMessage.Attachment(
                filename: "\(invoice.number ?? invoice.id).pdf", contentType: "application/pdf",
                data: try await documents.pdf(invoice))
        ]
    }
}
