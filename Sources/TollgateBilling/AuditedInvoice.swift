import TollgateCore
import TollgateStorage

/// An invoice as the audit trail records its changes.
struct AuditedInvoice: Encodable {
    let customer: String
    let status: String
    let number: String?
    let total: Int64
    let currency: String

    init(_ invoice: InvoiceRecord) {
        customer = invoice.subject
        status = invoice.status.rawValue
        number = invoice.number
        total = invoice.total
        currency = invoice.currency.code
    }
}

struct AuditedItem: Encodable {
    let id: String
    let description: String
    let amount: Int64
    let currency: String
}

/// A credit note as the audit trail records its issue.
struct AuditedCreditNote: Encodable {
    let number: String
    let reason: String?
    let total: Int64
}
