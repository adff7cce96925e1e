import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

/// Credit notes: numbered corrections of finalized invoices, and the accountant's reads.
extension SQLStore {
    public func issueCreditNote(
        invoiceId: String, _ request: CreditNoteRequest,
        lines: @Sendable (InvoiceRecord, [CreditNoteRecord]) throws -> [CreditNoteLine]
    ) async throws -> (CreditNoteRecord, created: Bool) {
        let year = PeriodMath.utcCalendar.component(.year, from: request.at)
        let kind = provider.kind
        return try await provider.transaction { db in
            let invoice = try await Self.lockedInvoice(db, id: invoiceId, kind: kind)
            let earlier = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.creditNoteColumns) FROM credit_notes WHERE invoice_id = \(bind: invoiceId)
                ORDER BY created_at_ms, number
                """
            ).all().map(Self.decodeCreditNote)
            if let existing = earlier.first(where: { $0.reference == request.reference }) { return (existing, false) }
            guard [.open, .paid, .uncollectible].contains(invoice.status) else {
                throw InvoiceStoreError.wrongStatus(invoice.status)
            }
            let note = CreditNoteRecord(
                id: request.id, number: try await Self.drawNumber(db, request.numbering, year: year),
                invoiceId: invoiceId, subject: invoice.subject, currency: invoice.currency,
                lines: try lines(invoice, earlier), reason: request.reason, memo: request.memo,
                reference: request.reference, createdAt: request.at)
            let encoded = String(decoding: try JSONEncoder().encode(note.lines), as: UTF8.self)
            try await db.raw(
                """
                INSERT INTO credit_notes (id, number, invoice_id, subject, currency, lines, subtotal_minor, tax_minor,
                    total_minor, reason, memo, reference, created_at_ms)
                VALUES (\(bind: note.id), \(bind: note.number), \(bind: invoiceId), \(bind: note.subject),
                    \(bind: note.currency.code), \(bind: encoded), \(bind: note.subtotal), \(bind: note.tax),
                    \(bind: note.total), \(bind: note.reason), \(bind: note.memo), \(bind: note.reference),
                    \(bind: Millis.from(note.createdAt)))
                """
            ).run()
            try await db.raw(
                """
                UPDATE invoices SET credited_minor = credited_minor + \(bind: note.total) WHERE id = \(bind: invoiceId)
                """
            ).run()
            return (note, true)
        }
    }

    public func creditNotes(invoiceId: String) async throws -> [CreditNoteRecord] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.creditNoteColumns) FROM credit_notes WHERE invoice_id = \(bind: invoiceId)
                ORDER BY created_at_ms, number
                """
            ).all().map(Self.decodeCreditNote)
        }
    }

    public func creditNote(id: String) async throws -> CreditNoteRecord? {
        try await provider.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.creditNoteColumns) FROM credit_notes WHERE id = \(bind: id)")
                .first().map(Self.decodeCreditNote)
        }
    }

    public func finalizedInvoices(from: Date, to: Date) async throws -> [InvoiceRecord] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.invoiceColumns) FROM invoices
                WHERE finalized_at_ms >= \(bind: Millis.from(from)) AND finalized_at_ms < \(bind: Millis.from(to))
                    AND provider = 'manual'
                ORDER BY finalized_at_ms, number
                """
            ).all().map(Self.decodeInvoice)
        }
    }

    public func creditNotes(from: Date, to: Date) async throws -> [CreditNoteRecord] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.creditNoteColumns) FROM credit_notes
                WHERE created_at_ms >= \(bind: Millis.from(from)) AND created_at_ms < \(bind: Millis.from(to))
                ORDER BY created_at_ms, number
                """
            ).all().map(Self.decodeCreditNote)
        }
    }

    static let creditNoteColumns =
        "id, number, invoice_id, subject, currency, lines, reason, memo, reference, created_at_ms"

    static func decodeCreditNote(_ row: any SQLRow) throws -> CreditNoteRecord {
        CreditNoteRecord(
            id: try row.decode(column: "id", as: String.self),
            number: try row.decode(column: "number", as: String.self),
            invoiceId: try row.decode(column: "invoice_id", as: String.self),
            subject: try row.decode(column: "subject", as: String.self),
            currency: Currency(try row.decode(column: "currency", as: String.self)) ?? Currency("EUR")!,
            lines: try JSONDecoder().decode(
                [CreditNoteLine].self, from: Data(try row.decode(column: "lines", as: String.self).utf8)),
            reason: try row.decode(column: "reason", as: String?.self),
            memo: try row.decode(column: "memo", as: String?.self),
            reference: try row.decode(column: "reference", as: String.self),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)))
    }
}
