import Foundation
import TollgateCore
import TollgateStorage

/// Reminders of unpaid invoices, and the reports of what was invoiced (export, totals, OSS).
extension InvoiceService {
    /// Sends the payment reminders that are due (`Dunning`): one `invoice.overdue` per invoice and
    /// pass, however many steps a stopped server missed. The invoices whose final reminder this
    /// pass sent, for their subscription to go past due.
    public func remindOverdue() async throws -> [InvoiceRecord] {
        let now = clock.now()
        var final: [InvoiceRecord] = []
        for invoice in try await store.invoicesAwaitingReminder(now: now) {
            guard let due = invoice.dueAt else { continue }
            let number = Dunning.remindersDue(dueAt: due, now: now)
            guard number > invoice.remindersSent else { continue }
            let isFinal = number == Dunning.finalReminder
            let event = try OutboxEvent.message(
                id: OutboxEvent.uniqueId(), type: "invoice.overdue",
                subject: Subject.customer(invoice.subject),
                data: InvoiceOverdueEventData(invoice, reminder: number, final: isFinal, at: now), at: now)
            if try await store.recordReminder(invoiceId: invoice.id, number: number, event: event), isFinal {
                final.append(invoice)
            }
        }
        return final
    }

    /// The documents finalized in [from, to) for the accountant's export, per VAT rate.
    public func export(from: Date, to: Date) async throws -> [InvoiceReports.ExportRow] {
        let (invoices, notes, byId) = try await documents(from: from, to: to)
        return InvoiceReports.export(invoices: invoices, creditNotes: notes, invoicesById: byId)
    }

    /// Invoiced revenue per interval between the edges, in `currency`.
    public func invoicing(currency: Currency, edges: [Date]) async throws -> [InvoiceReports.InvoicingInterval] {
        guard let first = edges.first, let last = edges.last else { return [] }
        let (invoices, notes, _) = try await documents(from: first, to: last)
        return InvoiceReports.invoicing(invoices: invoices, creditNotes: notes, currency: currency, edges: edges)
    }

    /// The OSS return of the documents finalized in [from, to).
    public func oss(from: Date, to: Date) async throws -> [InvoiceReports.OSSLine] {
        let (invoices, notes, byId) = try await documents(from: from, to: to)
        return InvoiceReports.oss(invoices: invoices, creditNotes: notes, invoicesById: byId)
    }

    private func documents(from: Date, to: Date) async throws -> (
        [InvoiceRecord], [CreditNoteRecord], [String: InvoiceRecord]
    ) {
        let invoices = try await store.finalizedInvoices(from: from, to: to)
        let notes = try await store.creditNotes(from: from, to: to)
        var byId = Dictionary(invoices.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for id in Set(notes.map(\.invoiceId)) where byId[id] == nil {
            byId[id] = try await store.invoice(id: id)
        }
        return (invoices, notes, byId)
    }
}
