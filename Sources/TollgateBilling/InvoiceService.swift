import Foundation
import TollgateCore
import TollgateStorage

/// Invoices: the upcoming one of any customer (what the next invoice will hold), and those
/// Tollgate issues itself for the manual provider — at each period's end, or as drafts of the
/// pending charges — through their life: finalized (numbered, VAT applied), then paid, voided
/// or written off. Stripe issues its own; Tollgate adds the overage to them as invoice items.
public final class InvoiceService: Sendable {
    private let catalog: Catalog
    private let store: any BillingStore & CustomerStore & InvoiceStore & TransactionalStorage
    private let clock: any TollgateClock
    public let settings: InvoiceSettings
    /// The overage lines of a subject's period containing a date, priced in a currency.
    public typealias OverageLines =
        @Sendable (_ subject: String, _ date: Date, _ currency: Currency) async throws -> [InvoiceLine]
    private let overage: OverageLines

    public init(
        catalog: Catalog, store: any BillingStore & CustomerStore & InvoiceStore & TransactionalStorage,
        clock: any TollgateClock,
        settings: InvoiceSettings = InvoiceSettings(), overage: @escaping OverageLines
    ) {
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.settings = settings
        self.overage = overage
    }

    public struct Draft: Sendable {
        public let subject: String
        public let subscriptionId: String?
        public let currency: Currency
        /// The period whose usage (overage) the invoice bills; recurring lines pay for the next one.
        public let periodStart: Date?
        public let periodEnd: Date?
        public let lines: [InvoiceLine]
        public var total: Int64 { Invoicing.total(lines) }
    }

    /// What the subject's next invoice holds now: the next period's subscription and add-ons
    /// (unless it ends), the charges waiting (prorations), and this period's overage so far.
    public func upcoming(subject: String) async throws -> Draft {
        guard let customer = try await store.customer(id: subject) else {
            throw DomainError(.customerNotFound, "no customer with id \(subject)", field: "id")
        }
        let live = try await store.subscriptions(subject: subject).filter { $0.0.isLive }.last?.0
        let currency =
            live?.currency ?? customer.spendCap?.currency ?? catalog.plan(customer.planId)?.prices.first?.currency
            ?? Currency("EUR")!
        var lines: [InvoiceLine] = []
        if let live, !live.cancelAtPeriodEnd {
            var next = live
            if let pending = live.pendingPlanId { next.planId = pending }
            lines += Invoicing.subscriptionLines(catalog: catalog, subscription: next)
        }
        let pending = try await store.pendingInvoiceItems(subject: subject)
        lines += Self.lines(of: pending.filter { $0.amount.currency == currency })
        lines += try await overage(subject, clock.now(), currency)
        return Draft(
            subject: subject, subscriptionId: live?.id, currency: currency, periodStart: live?.currentPeriodStart,
            periodEnd: live?.currentPeriodEnd, lines: lines)
    }

    /// The invoice a manual subscription owes as its period `ended` rolls over into `next`:
    /// the next period's recurring lines (none when it ended for good), the pending charges in
    /// its currency, and the ended period's overage. Issued (finalized) once per subscription
    /// and period.
    func issue(ended: Subscription, next: Subscription) async throws {
        let now = clock.now()
        var lines: [InvoiceLine] = []
        if [.active, .pastDue].contains(next.status) {
            lines += Invoicing.subscriptionLines(catalog: catalog, subscription: next)
        }
        let pending = try await store.pendingInvoiceItems(subject: ended.subject).filter {
            $0.amount.currency == ended.currency
        }
        lines += Self.lines(of: pending)
        lines += try await overage(ended.subject, ended.currentPeriodEnd - 0.001, ended.currency).map {
            var line = $0
            (line.periodStart, line.periodEnd) = (ended.currentPeriodStart, ended.currentPeriodEnd)
            return line
        }
        let invoice = InvoiceRecord(
            id: Self.newId(), subject: ended.subject, subscriptionId: ended.id, currency: ended.currency,
            periodStart: ended.currentPeriodStart, periodEnd: ended.currentPeriodEnd, lines: lines, createdAt: now)
        guard try await store.createInvoice(invoice, claiming: pending.map(\.id)) else { return }
        _ = try await finalize(id: invoice.id)
    }

    /// A draft of the customer's pending charges (one-off charges, prorations, overage items) in
    /// `currency` (or that of the oldest one).
    public func createDraft(customer: String, currency: Currency?) async throws -> InvoiceRecord {
        try await inTransaction { service, tx in
            let draft = try await service.drafting(customer: customer, currency: currency)
            try await Audit.record(
                AuditChange("invoice.created", target: Self.target(draft.id), after: AuditedInvoice(draft)), in: tx)
            return draft
        }
    }

    private func drafting(customer: String, currency: Currency?) async throws -> InvoiceRecord {
        try await requireCustomer(customer)
        let pending = try await store.pendingInvoiceItems(subject: customer)
        guard let currency = currency ?? pending.first?.amount.currency else {
            throw DomainError(.conflict, "the customer has no pending charges to invoice", field: "customer")
        }
        let items = pending.filter { $0.amount.currency == currency }
        guard !items.isEmpty else {
            throw DomainError(
                .conflict, "the customer has no pending charges in \(currency.code) to invoice", field: "currency")
        }
        guard let draft = try await draft(customer: customer, currency: currency, items: items, subscription: nil)
        else {
            throw DomainError(
                .conflict, "the pending charges were invoiced meanwhile by another call", field: "customer")
        }
        return draft
    }

    /// A draft of `items`; nil when another invoice claimed one of them first (it bills them).
    private func draft(customer: String, currency: Currency, items: [InvoiceItemRecord], subscription: String?)
        async throws -> InvoiceRecord?
    {
        let invoice = InvoiceRecord(
            id: Self.newId(), subject: customer, subscriptionId: subscription, currency: currency, periodStart: nil,
            periodEnd: nil, lines: Self.lines(of: items), createdAt: clock.now())
        guard try await store.createInvoice(invoice, claiming: items.map(\.id)) else { return nil }
        return try await self.invoice(id: invoice.id)
    }

    /// Invoices the customer's pending charges in `currency` now (a period paid at once): a
    /// draft, finalized. Nil when nothing is pending (another call invoiced it first).
    /// `subscription`: the period's subscription, so that dunning and payment move it (its period
    /// start stays empty: the renewal at the period's end owns that key).
    func invoicePending(customer: String, currency: Currency, subscription: String?) async throws -> InvoiceRecord? {
        let pending = try await store.pendingInvoiceItems(subject: customer).filter { $0.amount.currency == currency }
        guard !pending.isEmpty,
            let draft = try await draft(
                customer: customer, currency: currency, items: pending, subscription: subscription)
        else { return nil }
        return try await finalize(id: draft.id)
    }

    /// Records a charge (one-off by default) for the customer's next invoice, once per idempotency key.
    public func addItem(
        customer: String, description: String, quantity: Int64, unitAmount: Int64, currency: Currency,
        idempotencyKey: String, kind: InvoiceLine.Kind = .oneOff
    ) async throws -> (InvoiceItemRecord, created: Bool) {
        try await inTransaction { service, tx in
            let (item, created) = try await service.adding(
                customer: customer, description: description, quantity: quantity, unitAmount: unitAmount,
                currency: currency, idempotencyKey: idempotencyKey, kind: kind)
            let action = kind == .creditPack ? "invoice.credit_pack_invoiced" : "invoice.item_added"
            let change = AuditChange(
                action, target: "customer:\(customer)",
                after: AuditedItem(
                    id: item.id, description: item.description, amount: item.amount.amountMinor,
                    currency: item.amount.currency.code))
            try await Audit.record(created ? change : .unchanged(action), in: tx)
            return (item, created)
        }
    }

    private func adding(
        customer: String, description: String, quantity: Int64, unitAmount: Int64, currency: Currency,
        idempotencyKey: String, kind: InvoiceLine.Kind
    ) async throws -> (InvoiceItemRecord, created: Bool) {
        try await requireCustomer(customer)
        let (amount, overflow) = quantity.multipliedReportingOverflow(by: unitAmount)
        guard !overflow, amount.magnitude <= 1_000_000_000_000 else {
            throw DomainError.invalidField("unitAmount", "quantity × unitAmount must stay within ±1000000000000")
        }
        let item = InvoiceItemRecord(
            id: "ii_" + Self.randomSuffix(), subject: customer, kind: kind.rawValue,
            description: description, quantity: quantity, unitAmount: unitAmount, amount: Money(amount, currency),
            reference: "\(kind.rawValue):" + idempotencyKey, createdAt: clock.now())
        let (stored, created) = try await store.addInvoiceItem(item)
        guard created || Self.sameCharge(stored, item) else {
            throw DomainError(
                .idempotencyKeyReused, "this idempotencyKey was used for a different charge", field: "idempotencyKey")
        }
        return (stored, created)
    }

    /// Numbers the draft, applies VAT from the seller, the customer's billing details and the
    /// date, sets the due date from the customer's terms, and freezes it.
    /// `refusingNegative`: a draft that totals less than zero is refused (an operator's or the
    /// API's finalize) rather than paid as issued.
    public func finalize(
        id: String, refusingNegative: Bool = false, afterNumbering: (@Sendable (String) async throws -> Void)? = nil
    ) async throws -> InvoiceRecord {
        try await inTransaction { service, tx in
            let before = try await service.invoice(id: id)
            let after = try await service.finalizing(
                id: id, refusingNegative: refusingNegative, afterNumbering: afterNumbering)
            try await Audit.record(
                AuditChange(
                    "invoice.finalized", target: Self.target(id), before: AuditedInvoice(before),
                    after: AuditedInvoice(after)), in: tx)
            return after
        }
    }

    private func finalizing(
        id: String, refusingNegative: Bool, afterNumbering: (@Sendable (String) async throws -> Void)?
    ) async throws -> InvoiceRecord {
        let draft = try await invoice(id: id)
        guard draft.status == .draft else { throw Self.wrongStatus(draft.status, .finalize) }
        let now = clock.now()
        let details = try await store.billingDetails(customer: draft.subject)
        let treatment: TaxTreatment
        do {
            treatment = try TaxTreatment.decide(
                seller: settings.seller?.party, buyer: details?.party, on: now,
                underOSSThreshold: settings.underOSSThreshold)
        } catch {
            throw DomainError(.conflict, "the seller's country has no VAT rate on \(now)")
        }
        let lines = Invoicing.taxed(
            draft.lines, treatment: treatment, inclusive: settings.taxInclusiveCurrencies.contains(draft.currency))
        // What is owed back is a credit note against the invoice it corrects, never an invoice
        // (a renewal whose credits outweigh it is paid as issued, as before).
        guard !refusingNegative || Invoicing.total(lines) >= 0 else {
            throw DomainError(
                .conflict,
                "this draft totals less than zero: credit the invoice it corrects with a credit note instead "
                    + "(POST /v1/invoices/{id}/credit-notes)", field: "id")
        }
        let finalization = Finalization(
            lines: lines,
            parties: InvoiceParties(seller: settings.seller, buyer: details?.party, treatment: treatment),
            numbering: settings.numbering, at: now,
            dueAt: Invoicing.dueDate(finalizedAt: now, termsDays: details?.paymentTermsDays ?? 0))
        let finalized: InvoiceRecord
        do {
            finalized = try await store.finalizeInvoice(id: id, finalization, afterNumbering: afterNumbering)
        } catch InvoiceStoreError.wrongStatus(let status) {
            throw Self.wrongStatus(status, .finalize)
        }
        // Nothing to pay (a free period, credits covering it): paid as it is issued, as Stripe does.
        guard finalized.total <= 0 else { return finalized }
        return try await store.transitionInvoice(id: id, .pay, at: now)
    }

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

    private static func refusal(_ problem: CreditNoting.Problem) -> DomainError {
        switch problem {
        case .nothingLeft: DomainError(.conflict, "everything on this invoice is credited already", field: "lines")
        case .noSuchLine(let line):
            .invalidField("lines", "the invoice has no charge at position \(line)")
        case .notPositive(let line): .invalidField("lines", "the amount for line \(line) must be more than 0")
        case .exceedsLine(let line, let left):
            .invalidField("lines", "line \(line) has \(left) minor units left to credit (net of VAT)")
        }
    }

    /// Pay, void or mark uncollectible.
    public func apply(_ transition: InvoiceStatus.Transition, to id: String) async throws -> InvoiceRecord {
        try Self.requireOwn(try await invoice(id: id))
        if transition == .finalize { return try await finalize(id: id, refusingNegative: true) }
        let action =
            switch transition {
            case .finalize: "invoice.finalized"
            case .pay: "invoice.paid"
            case .void: "invoice.voided"
            case .markUncollectible: "invoice.marked_uncollectible"
            }
        let now = clock.now()
        do {
            return try await inTransaction { service, tx in
                let before = try await service.invoice(id: id)
                let after = try await tx.transitionInvoice(id: id, transition, at: now)
                try await Audit.record(
                    AuditChange(
                        action, target: Self.target(id), before: AuditedInvoice(before), after: AuditedInvoice(after)),
                    in: tx)
                return after
            }
        } catch InvoiceStoreError.notFound {
            throw DomainError(.notFound, "no invoice with id \(id)", field: "id")
        } catch InvoiceStoreError.wrongStatus(let status) {
            throw Self.wrongStatus(status, transition)
        }
    }

    /// The service's clock's now (the routes' default windows).
    public var now: Date { clock.now() }

    public func invoice(id: String) async throws -> InvoiceRecord {
        guard let invoice = try await store.invoice(id: id) else {
            throw DomainError(.notFound, "no invoice with id \(id)", field: "id")
        }
        return invoice
    }

    public func overageLines(subject: String, at date: Date, currency: Currency) async throws -> [InvoiceLine] {
        try await overage(subject, date, currency)
    }

    public func invoices(subject: String, statuses: Set<InvoiceStatus> = []) async throws -> [InvoiceRecord] {
        try await requireCustomer(subject)
        return try await store.invoices(subject: subject, statuses: statuses)
    }

    public func billingDetails(customer: String) async throws -> BillingDetails? {
        try await requireCustomer(customer)
        return try await store.billingDetails(customer: customer)
    }

    public func setBillingDetails(customer: String, _ details: BillingDetails) async throws {
        let now = clock.now()
        try await inTransaction { service, tx in
            try await service.requireCustomer(customer)
            try await tx.setBillingDetails(customer: customer, details, at: now)
            try await Audit.record(
                AuditChange("customer.billing_details_changed", target: "customer:\(customer)"), in: tx)
        }
    }

    /// Runs `body` on this service bound to one transaction (`tx`, its stores), where the change
    /// and its audit entry are written together; inside another, it joins it.
    private func inTransaction<T: Sendable>(
        _ body: @escaping @Sendable (InvoiceService, any Storage) async throws -> T
    ) async throws -> T {
        let (catalog, clock, settings, overage) = (catalog, clock, settings, overage)
        return try await store.transaction { tx in
            try await body(
                InvoiceService(catalog: catalog, store: tx, clock: clock, settings: settings, overage: overage), tx)
        }
    }

    static func target(_ id: String) -> String { "invoice:\(id)" }

    private func requireCustomer(_ id: String) async throws {
        guard try await store.customer(id: id) != nil else {
            throw DomainError(.customerNotFound, "no customer with id \(id)", field: "id")
        }
    }

    /// Stripe's invoices are mirrored read-only: they change in Stripe.
    public static func requireOwn(_ invoice: InvoiceRecord) throws {
        guard PaymentProviderKind(stored: invoice.provider) == .manual else {
            throw DomainError(
                .conflict,
                "invoice \(invoice.id) is Stripe's: change it in Stripe (\(invoice.hostedURL ?? "its dashboard"))",
                field: "id")
        }
    }

    private static func wrongStatus(_ status: InvoiceStatus, _ transition: InvoiceStatus.Transition) -> DomainError {
        DomainError(.conflict, "a \(status.rawValue) invoice cannot be \(transition.pastTense)", field: "status")
    }

    private static func sameCharge(_ stored: InvoiceItemRecord, _ item: InvoiceItemRecord) -> Bool {
        stored.description == item.description && stored.quantity == item.quantity
            && stored.unitAmount == item.unitAmount && stored.amount == item.amount
    }

    static func newId() -> String { "in_" + randomSuffix() }

    static func randomSuffix() -> String {
        String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20))
    }

    static func lines(of items: [InvoiceItemRecord]) -> [InvoiceLine] {
        items.map { item in
            InvoiceLine(
                kind: InvoiceLine.Kind(rawValue: item.kind) ?? .adjustment, description: item.description,
                quantity: item.quantity, unitAmount: item.unitAmount ?? item.amount.amountMinor,
                amount: item.amount.amountMinor)
        }
    }
}

extension InvoiceStatus.Transition {
    var pastTense: String {
        switch self {
        case .finalize: "finalized"
        case .pay: "paid"
        case .void: "voided"
        case .markUncollectible: "marked uncollectible"
        }
    }
}

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

struct AuditedCreditNote: Encodable {
    let number: String
    let reason: String?
    let total: Int64
}
