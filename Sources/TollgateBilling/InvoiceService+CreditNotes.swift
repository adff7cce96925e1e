import Foundation
import TollgateCore
import TollgateStorage

/// Credit notes: what is owed back on a finalized invoice, numbered in their own series.
extension InvoiceService {
    /// Credits a finalized invoice: `requested` (line position → net amount), or everything not
    /// credited yet. Once per idempotency key.
    public func creditNote(
        invoice id: String, requested: [Int: Int64]?, reason: String?, memo: String?, idempotencyKey: String
    ) async throws -> (CreditNoteRecord, created: Bool) {
        try await inTransaction { service, tx in
            let (note, created) = try await service.crediting(
                invoice: id, requested: requested, reason: reason, memo: memo, idempotencyKey: idempotencyKey)
            let action = "invoice.credit_note_issued"
            let change = AuditChange(
                action, target: Self.target(id),
                after: AuditedCreditNote(number: note.number, reason: note.reason, total: note.total))
            try await Audit.record(created ? change : .unchanged(action), in: tx)
            return (note, created)
        }
    }

    private func crediting(
        invoice id: String, requested: [Int: Int64]?, reason: String?, memo: String?, idempotencyKey: String
    ) async throws -> (CreditNoteRecord, created: Bool) {
        try Self.requireOwn(try await invoice(id: id))
        let request = CreditNoteRequest(
            id: "cn_" + Self.randomSuffix(), reason: reason, memo: memo, reference: idempotencyKey,
            numbering: settings.creditNoteNumbering, at: clock.now())
        do {
            let (note, created) = try await store.issueCreditNote(invoiceId: id, request) { invoice, earlier in
                try CreditNoting.lines(of: invoice.lines, earlier: earlier.flatMap(\.lines), requested: requested)
            }
            let credited = Dictionary(uniqueKeysWithValues: note.lines.map { ($0.invoiceLine, $0.amount) })
            guard created || requested == nil || credited == requested
            else {
                throw DomainError(
                    .idempotencyKeyReused, "this idempotencyKey was used for a different credit note",
                    field: "idempotencyKey")
            }
            return (note, created)
        } catch InvoiceStoreError.notFound {
            throw DomainError(.notFound, "no invoice with id \(id)", field: "id")
        } catch InvoiceStoreError.wrongStatus(let status) {
            throw DomainError(.conflict, "a \(status.rawValue) invoice cannot be credited", field: "status")
        } catch let problem as CreditNoting.Problem {
            throw Self.refusal(problem)
        }
    }

    public func creditNotes(invoice id: String) async throws -> [CreditNoteRecord] {
        _ = try await invoice(id: id)
        return try await store.creditNotes(invoiceId: id)
    }

    public func creditNote(id: String) async throws -> CreditNoteRecord {
        guard let note = try await store.creditNote(id: id) else {
            throw DomainError(.notFound, "no credit note with id \(id)", field: "id")
        }
        return note
    }

    static func refusal(_ problem: CreditNoting.Problem) -> DomainError {
        switch problem {
        case .nothingLeft: DomainError(.conflict, "everything on this invoice is credited already", field: "lines")
        case .noSuchLine(let line):
            .invalidField("lines", "the invoice has no charge at position \(line)")
        case .notPositive(let line): .invalidField("lines", "the amount for line \(line) must be more than 0")
        case .exceedsLine(let line, let left):
            .invalidField("lines", "line \(line) has \(left) minor units left to credit (net of VAT)")
        }
    }
}
