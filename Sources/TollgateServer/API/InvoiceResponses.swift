import Foundation
import TollgateCore
import TollgateStorage

/// An invoice as the API shows it (`GET /v1/invoices/{id}`).
struct InvoiceDocument: Encodable {
    struct Line: Encodable {
        let kind: String
        let description: String
        let quantity: Int64
        @NullEncoded var unitAmount: Int64?
        let amount: Int64
        @NullEncoded var taxRate: Double?
        let taxAmount: Int64
        @NullEncoded var feature: String?
        @NullEncoded var periodStart: Date?
        @NullEncoded var periodEnd: Date?

        init(_ line: InvoiceLine) {
            kind = line.kind.rawValue
            description = line.description
            quantity = line.quantity
            unitAmount = line.unitAmount
            amount = line.amount
            taxRate = line.taxRate.map(InvoiceDocument.decimal)
            taxAmount = line.taxAmount
            feature = line.feature
            periodStart = line.periodStart
            periodEnd = line.periodEnd
        }
    }

    struct RateTotal: Encodable {
        let rate: Double
        let taxable: Int64
        let tax: Int64
    }

    struct Party: Encodable {
        let legalName: String
        let addressLines: [String]
        let postalCode: String
        let city: String
        let country: String
        @NullEncoded var vatNumber: String?

        init(_ party: InvoiceParty) {
            legalName = party.legalName
            addressLines = party.addressLines
            postalCode = party.postalCode
            city = party.city
            country = party.country
            vatNumber = party.vatNumber
        }
    }

    struct Tax: Encodable {
        let treatment: String
        @NullEncoded var country: String?
        let rate: Double
        @NullEncoded var mention: String?
    }

    let id: String
    @NullEncoded var number: String?
    let status: String
    /// `manual`: issued by Tollgate; `stripe`: Stripe's, mirrored read-only.
    let provider: String
    @NullEncoded var hostedInvoiceUrl: String?
    let customer: String
    @NullEncoded var subscription: String?
    let currency: String
    @NullEncoded var periodStart: Date?
    @NullEncoded var periodEnd: Date?
    let lines: [Line]
    let subtotal: Int64
    let tax: Int64
    let total: Int64
    /// The total of its credit notes (VAT included).
    let credited: Int64
    let taxes: [RateTotal]
    @NullEncoded var taxTreatment: Tax?
    @NullEncoded var seller: Party?
    @NullEncoded var buyer: Party?
    let createdAt: Date
    @NullEncoded var finalizedAt: Date?
    @NullEncoded var dueAt: Date?
    @NullEncoded var paidAt: Date?
    @NullEncoded var voidedAt: Date?
    @NullEncoded var markedUncollectibleAt: Date?

    init(_ invoice: InvoiceRecord) {
        id = invoice.id
        number = invoice.number
        status = invoice.status.rawValue
        provider = invoice.provider
        hostedInvoiceUrl = invoice.hostedURL
        customer = invoice.subject
        subscription = invoice.subscriptionId
        currency = invoice.currency.code
        periodStart = invoice.periodStart
        periodEnd = invoice.periodEnd
        lines = invoice.lines.map(Line.init)
        subtotal = invoice.subtotal
        tax = invoice.tax
        total = invoice.total
        credited = invoice.credited
        taxes =
            invoice.status == .draft
            ? []
            : InvoiceTax.totals(invoice.lines).map {
                RateTotal(rate: Self.decimal($0.rate), taxable: $0.taxable, tax: $0.tax)
            }
        taxTreatment = invoice.parties.map {
            Tax(
                treatment: $0.treatment.kind.rawValue, country: $0.treatment.country,
                rate: Self.decimal($0.treatment.rate), mention: $0.treatment.mention)
        }
        seller = invoice.parties?.seller.map { Party($0.party) }
        buyer = invoice.parties?.buyer.map(Party.init)
        createdAt = invoice.createdAt
        finalizedAt = invoice.finalizedAt
        dueAt = invoice.dueAt
        paidAt = invoice.paidAt
        voidedAt = invoice.voidedAt
        markedUncollectibleAt = invoice.markedUncollectibleAt
    }

    /// Basis points as a decimal rate: 1900 → 0.19, 2550 → 0.255 (exact: printed shortest).
    static func decimal(_ rate: BasisPoints) -> Double { Double(rate) / 10_000 }
}

/// A credit note as the API shows it (`GET /v1/credit-notes/{id}`).
struct CreditNoteDocument: Encodable {
    struct Line: Encodable {
        let line: Int
        let description: String
        let amount: Int64
        let taxRate: Double
        let taxAmount: Int64
    }

    let id: String
    let number: String
    let invoice: String
    let customer: String
    let currency: String
    let lines: [Line]
    let subtotal: Int64
    let tax: Int64
    let total: Int64
    @NullEncoded var reason: String?
    @NullEncoded var memo: String?
    let createdAt: Date

    init(_ note: CreditNoteRecord) {
        id = note.id
        number = note.number
        invoice = note.invoiceId
        customer = note.subject
        currency = note.currency.code
        lines = note.lines.map {
            Line(
                line: $0.invoiceLine, description: $0.description, amount: $0.amount,
                taxRate: InvoiceDocument.decimal($0.taxRate), taxAmount: $0.taxAmount)
        }
        subtotal = note.subtotal
        tax = note.tax
        total = note.total
        reason = note.reason
        memo = note.memo
        createdAt = note.createdAt
    }
}
