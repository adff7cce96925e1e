import Foundation
import TollgateCore

/// An invoice of the manual provider: a draft of lines, then, once finalized, a
/// numbered document with its seller, buyer and VAT frozen.
public struct InvoiceRecord: Sendable, Hashable {
    public var id: String
    public var subject: String
    public var subscriptionId: String?
    public var status: InvoiceStatus
    /// Set when finalized, from its series' counter.
    public var number: String?
    public var currency: Currency
    /// For a period's invoice: the period that ended (its usage is billed here, and the next
    /// one's recurring charges).
    public var periodStart: Date?
    public var periodEnd: Date?
    public var lines: [InvoiceLine]
    /// Seller, buyer and tax treatment, fixed at finalization.
    public var parties: InvoiceParties?
    public var createdAt: Date
    public var finalizedAt: Date?
    public var dueAt: Date?
    public var paidAt: Date?
    public var voidedAt: Date?
    public var markedUncollectibleAt: Date?
    /// The total (VAT included) of its credit notes.
    public var credited: Int64 = 0
    /// Payment reminders sent (see `Dunning`).
    public var remindersSent = 0
    /// Who issued it: `manual` (Tollgate) or `stripe` (mirrored read-only from its webhooks).
    public var provider = PaymentProviderKind.manual.rawValue
    /// Stripe's page for its invoice.
    public var hostedURL: String?

    public var subtotal: Int64 { Invoicing.subtotal(lines) }
    public var tax: Int64 { Invoicing.tax(lines) }
    public var total: Int64 { Invoicing.total(lines) }

    public init(
        id: String, subject: String, subscriptionId: String?, status: InvoiceStatus = .draft, number: String? = nil,
        currency: Currency, periodStart: Date?, periodEnd: Date?, lines: [InvoiceLine], parties: InvoiceParties? = nil,
        createdAt: Date, finalizedAt: Date? = nil, dueAt: Date? = nil
    ) {
        self.id = id
        self.subject = subject
        self.subscriptionId = subscriptionId
        self.status = status
        self.number = number
        self.currency = currency
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.lines = lines
        self.parties = parties
        self.createdAt = createdAt
        self.finalizedAt = finalizedAt
        self.dueAt = dueAt
    }
}

/// The buyer's details a customer's invoices print, and its payment terms.
public struct BillingDetails: Sendable, Hashable {
    public var party: InvoiceParty
    /// 0: due on receipt; N: net-N days (invoiced customers).
    public var paymentTermsDays: Int

    public init(party: InvoiceParty, paymentTermsDays: Int = 0) {
        self.party = party
        self.paymentTermsDays = paymentTermsDays
    }
}

/// Everything finalizing needs besides the draft, decided by the invoice service.
public struct Finalization: Sendable {
    public let lines: [InvoiceLine]
    public let parties: InvoiceParties
    public let numbering: DocumentNumbering
    public let at: Date
    public let dueAt: Date

    public init(lines: [InvoiceLine], parties: InvoiceParties, numbering: DocumentNumbering, at: Date, dueAt: Date) {
        self.lines = lines
        self.parties = parties
        self.numbering = numbering
        self.at = at
        self.dueAt = dueAt
    }
}

/// A credit note: a numbered correction of a finalized invoice, issued at once.
public struct CreditNoteRecord: Sendable, Hashable {
    public var id: String
    public var number: String
    public var invoiceId: String
    public var subject: String
    public var currency: Currency
    public var lines: [CreditNoteLine]
    public var reason: String?
    public var memo: String?
    /// Unique per invoice: the same call again finds this note.
    public var reference: String
    public var createdAt: Date

    public var subtotal: Int64 { lines.reduce(0) { $0 + $1.amount } }
    public var tax: Int64 { lines.reduce(0) { $0 + $1.taxAmount } }
    public var total: Int64 { subtotal + tax }

    public init(
        id: String, number: String, invoiceId: String, subject: String, currency: Currency, lines: [CreditNoteLine],
        reason: String?, memo: String?, reference: String, createdAt: Date
    ) {
        self.id = id
        self.number = number
        self.invoiceId = invoiceId
        self.subject = subject
        self.currency = currency
        self.lines = lines
        self.reason = reason
        self.memo = memo
        self.reference = reference
        self.createdAt = createdAt
    }
}

/// What issuing a credit note needs besides its lines, which are computed in its transaction.
public struct CreditNoteRequest: Sendable {
    public let id: String
    public let reason: String?
    public let memo: String?
    public let reference: String
    public let numbering: DocumentNumbering
    public let at: Date

    public init(
        id: String, reason: String?, memo: String?, reference: String, numbering: DocumentNumbering, at: Date
    ) {
        self.id = id
        self.reason = reason
        self.memo = memo
        self.reference = reference
        self.numbering = numbering
        self.at = at
    }
}

public enum InvoiceStoreError: Error, Equatable {
    case notFound
    /// The invoice is not in a status the change is allowed from.
    case wrongStatus(InvoiceStatus)
}

public protocol InvoiceStore: Sendable {
    func billingDetails(customer: String) async throws -> BillingDetails?
    func setBillingDetails(customer: String, _ details: BillingDetails, at: Date) async throws
    /// Records a charge for the customer's next invoice, once per `reference`: the stored item
    /// and whether it was new.
    func addInvoiceItem(_ item: InvoiceItemRecord) async throws -> (InvoiceItemRecord, created: Bool)
    /// Stores a draft and marks the claimed charges as on it, unless one exists already for the
    /// same subscription and period (then nothing changes: false).
    func createInvoice(_ invoice: InvoiceRecord, claiming itemIds: [String]) async throws -> Bool
    func invoice(id: String) async throws -> InvoiceRecord?
    /// The customer's invoices, newest first, of the given statuses (all when empty).
    func invoices(subject: String, statuses: Set<InvoiceStatus>) async throws -> [InvoiceRecord]
    /// Finalizes a draft in one transaction: draws the next number of its series from a locked
    /// counter row, freezes the lines and parties, and queues `invoice.issued`. `afterNumbering`
    /// runs inside the transaction once the number is drawn; if it throws, all of it rolls back
    /// and the number is not used.
    func finalizeInvoice(
        id: String, _ finalization: Finalization,
        afterNumbering: (@Sendable (String) async throws -> Void)?
    ) async throws -> InvoiceRecord
    /// Issues a credit note against a finalized (not void) invoice in one transaction: the invoice
    /// row locked, `lines` computed from it and its earlier notes, a number drawn from the
    /// credit notes' series. The same reference again returns the note it made (false).
    func issueCreditNote(
        invoiceId: String, _ request: CreditNoteRequest,
        lines: @Sendable (InvoiceRecord, [CreditNoteRecord]) throws -> [CreditNoteLine]
    ) async throws -> (CreditNoteRecord, created: Bool)
    /// An invoice's credit notes, oldest first.
    func creditNotes(invoiceId: String) async throws -> [CreditNoteRecord]
    func creditNote(id: String) async throws -> CreditNoteRecord?
    /// Finalized invoices (any status but draft) finalized in [from, to), oldest first.
    func finalizedInvoices(from: Date, to: Date) async throws -> [InvoiceRecord]
    /// Credit notes issued in [from, to), oldest first.
    func creditNotes(from: Date, to: Date) async throws -> [CreditNoteRecord]
    /// Open invoices due at least the first reminder's delay before `now` that have not had every
    /// reminder yet, oldest due first.
    func invoicesAwaitingReminder(now: Date) async throws -> [InvoiceRecord]
    /// Records that the invoice's reminder `number` was sent and queues `event` (its
    /// `invoice.overdue`), in one transaction — unless the invoice is no longer open or had that
    /// reminder already (false).
    func recordReminder(invoiceId: String, number: Int, event: OutboxMessage) async throws -> Bool
    /// Stores or updates the mirror of a provider's invoice, unless the stored one is newer
    /// (`version`, the provider's event time; at the same time, a status further along wins).
    func mirrorInvoice(_ invoice: InvoiceRecord, version: Date) async throws -> Bool
    /// Applies pay, void or mark-uncollectible (finalize has its own call).
    func transitionInvoice(id: String, _ transition: InvoiceStatus.Transition, at: Date) async throws -> InvoiceRecord
}
