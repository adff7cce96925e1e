import Foundation
import TollgateCore
import TollgateStorage

/// What the accountant reads: every finalized document per VAT rate, and the
/// One-Stop-Shop return per quarter and member state. Pure: built from stored documents.
public enum InvoiceReports {
    /// One line of the export: a document's share at one VAT rate. Credit notes are negative.
    public struct ExportRow: Sendable, Hashable {
        public let document: String
        public let number: String
        /// For a credit note: the invoice it corrects.
        public let invoiceNumber: String?
        public let status: String
        public let date: Date
        public let dueDate: Date?
        public let customer: String
        public let buyer: InvoiceParty?
        public let currency: Currency
        public let treatment: TaxTreatment.Kind
        /// The country whose rate applies (the consumer's, under the OSS).
        public let taxCountry: String?
        public let rate: BasisPoints
        public let taxable: Int64
        public let tax: Int64
    }

    /// Invoices, then credit notes, each as it was finalized (`invoices` by id, to find a credit
    /// note's invoice).
    public static func export(
        invoices: [InvoiceRecord], creditNotes: [CreditNoteRecord], invoicesById: [String: InvoiceRecord]
    ) -> [ExportRow] {
        var rows: [ExportRow] = []
        for invoice in invoices {
            guard let number = invoice.number, let finalized = invoice.finalizedAt else { continue }
            for total in InvoiceTax.totals(invoice.lines) {
                rows.append(
                    ExportRow(
                        document: "invoice", number: number, invoiceNumber: nil, status: invoice.status.rawValue,
                        date: finalized, dueDate: invoice.dueAt, customer: invoice.subject,
                        buyer: invoice.parties?.buyer, currency: invoice.currency,
                        treatment: invoice.parties?.treatment.kind ?? .untaxed,
                        taxCountry: invoice.parties?.treatment.country, rate: total.rate,
                        taxable: total.taxable, tax: total.tax))
            }
        }
        for note in creditNotes {
            let invoice = invoicesById[note.invoiceId]
            for (rate, lines) in Dictionary(grouping: note.lines, by: \.taxRate).sorted(by: { $0.key > $1.key }) {
                rows.append(
                    ExportRow(
                        document: "credit_note", number: note.number, invoiceNumber: invoice?.number, status: "issued",
                        date: note.createdAt, dueDate: nil, customer: note.subject, buyer: invoice?.parties?.buyer,
                        currency: note.currency, treatment: invoice?.parties?.treatment.kind ?? .untaxed,
                        taxCountry: invoice?.parties?.treatment.country, rate: rate,
                        taxable: -lines.reduce(0) { $0 + $1.amount }, tax: -lines.reduce(0) { $0 + $1.taxAmount }))
            }
        }
        return rows
    }

    /// One line of the OSS return: sales to consumers of one member state at one rate.
    public struct OSSLine: Sendable, Hashable {
        public let country: String
        public let rate: BasisPoints
        public let currency: Currency
        public let taxable: Int64
        public let tax: Int64
        /// Invoices and credit notes counted.
        public let documents: Int
    }

    /// The OSS return of the documents of a quarter: invoices taxed under the OSS (not voided),
    /// less the credit notes of such invoices, per country of consumption, rate and currency.
    public static func oss(
        invoices: [InvoiceRecord], creditNotes: [CreditNoteRecord], invoicesById: [String: InvoiceRecord]
    ) -> [OSSLine] {
        struct Key: Hashable {
            let country: String
            let rate: BasisPoints
            let currency: Currency
        }
        var sums: [Key: (taxable: Int64, tax: Int64, documents: Int)] = [:]
        let rows = export(invoices: invoices, creditNotes: creditNotes, invoicesById: invoicesById)
        for row in rows where row.treatment == .oneStopShop && row.status != InvoiceStatus.void.rawValue {
            guard let country = row.taxCountry else { continue }
            let key = Key(country: country, rate: row.rate, currency: row.currency)
            sums[key, default: (0, 0, 0)].taxable += row.taxable
            sums[key, default: (0, 0, 0)].tax += row.tax
            sums[key, default: (0, 0, 0)].documents += 1
        }
        return sums.map {
            OSSLine(
                country: $0.key.country, rate: $0.key.rate, currency: $0.key.currency, taxable: $0.value.taxable,
                tax: $0.value.tax, documents: $0.value.documents)
        }.sorted { ($0.country, $0.currency.code, $0.rate) < ($1.country, $1.currency.code, $1.rate) }
    }

    /// Invoiced revenue per interval in one currency: what Tollgate's invoices charged (net of
    /// VAT; void ones left out) less its credit notes, by finalization and issue dates.
    public struct InvoicingInterval: Sendable, Hashable {
        public let start: Date
        public let end: Date
        public var invoiced: Int64 = 0
        public var credited: Int64 = 0
        public var tax: Int64 = 0
        public var invoices = 0
        public var creditNotes = 0
        public var net: Int64 { invoiced - credited }
    }

    /// `edges`: the intervals' boundaries, first start to last end.
    public static func invoicing(
        invoices: [InvoiceRecord], creditNotes: [CreditNoteRecord], currency: Currency, edges: [Date]
    ) -> [InvoicingInterval] {
        var intervals = zip(edges, edges.dropFirst()).map { InvoicingInterval(start: $0, end: $1) }
        let index = { (date: Date) in intervals.firstIndex { $0.start <= date && date < $0.end } }
        for invoice in invoices where invoice.currency == currency && invoice.status != .void {
            guard let finalized = invoice.finalizedAt, let at = index(finalized) else { continue }
            intervals[at].invoiced += invoice.subtotal
            intervals[at].tax += invoice.tax
            intervals[at].invoices += 1
        }
        for note in creditNotes where note.currency == currency {
            guard let at = index(note.createdAt) else { continue }
            intervals[at].credited += note.subtotal
            intervals[at].tax -= note.tax
            intervals[at].creditNotes += 1
        }
        return intervals
    }

    /// `2027-Q1` → [2027-01-01, 2027-04-01) in UTC.
    public static func quarter(_ text: String) -> (from: Date, to: Date)? {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let year = Int(parts[0]), (2000...2999).contains(year), parts[1].count == 2,
            parts[1].first == "Q", let quarter = Int(parts[1].dropFirst()), (1...4).contains(quarter)
        else { return nil }
        let calendar = PeriodMath.utcCalendar
        guard let from = calendar.date(from: DateComponents(year: year, month: 3 * quarter - 2, day: 1)),
            let to = calendar.date(byAdding: .month, value: 3, to: from)
        else { return nil }
        return (from, to)
    }
}
