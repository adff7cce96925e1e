import Foundation
import TollgateCore
import TollgateStorage

/// Invoices: the upcoming one of any customer (what the next invoice will hold), and those
/// Tollgate issues itself for the manual provider — at each period's end, or as drafts of the
/// pending charges — through their life: finalized (numbered, VAT applied), then paid, voided
/// or written off. Stripe issues its own; Tollgate adds the overage to them as invoice items.
public final class InvoiceService: Sendable {
    private let catalog: Catalog
    let store: any BillingStore & CustomerStore & InvoiceStore & TransactionalStorage
    let clock: any TollgateClock
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

    /// Pay, void or mark uncollectible.
    /// `then` runs in the same transaction, on the invoice as it now is (a payment moves the
    /// subscription it settles).
    public func apply(
        _ transition: InvoiceStatus.Transition, to id: String,
        then: (@Sendable (InvoiceRecord, any Storage) async throws -> Void)? = nil
    ) async throws -> InvoiceRecord {
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
                try await then?(after, tx)
                // Last, as in every service: the trail's head is locked until the commit, and
                // taken after the change's rows, never before them.
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
    func inTransaction<T: Sendable>(
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
        guard PaymentProviderKind(rawValue: invoice.provider) == .manual else {
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
