import Foundation
import TollgateCore
import TollgateStorage

/// Invoices: the upcoming one of any customer (what the next invoice will hold), and those
/// Tollgate issues itself for the manual provider when a period ends. Stripe issues its own;
/// Tollgate adds the overage to them as invoice items (see the webhook service).
public final class InvoiceService: Sendable {
    private let catalog: Catalog
    private let store: any BillingStore & CustomerStore
    private let clock: any TollgateClock
    /// The overage lines of a subject's period containing a date, priced in a currency.
    public typealias OverageLines =
        @Sendable (_ subject: String, _ date: Date, _ currency: Currency) async throws -> [InvoiceLine]
    private let overage: OverageLines

    public init(
        catalog: Catalog, store: any BillingStore & CustomerStore, clock: any TollgateClock,
        overage: @escaping OverageLines
    ) {
        self.catalog = catalog
        self.store = store
        self.clock = clock
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
    /// its currency, and the ended period's overage. Issued once per subscription and period.
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
        lines += try await overage(ended.subject, ended.currentPeriodEnd - 0.001, ended.currency)
        let invoice = InvoiceRecord(
            id: "in_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20),
            subject: ended.subject,
            subscriptionId: ended.id, currency: ended.currency, periodStart: ended.currentPeriodStart,
            periodEnd: ended.currentPeriodEnd,
            lines: lines, createdAt: now
        )
        _ = try await store.issueInvoice(invoice, claiming: pending.map(\.id))
    }

    public func overageLines(subject: String, at date: Date, currency: Currency) async throws -> [InvoiceLine] {
        try await overage(subject, date, currency)
    }

    public func invoices(subject: String) async throws -> [InvoiceRecord] {
        guard try await store.customer(id: subject) != nil else {
            throw DomainError(.customerNotFound, "no customer with id \(subject)", field: "id")
        }
        return try await store.invoices(subject: subject)
    }

    static func lines(of items: [InvoiceItemRecord]) -> [InvoiceLine] {
        items.map { item in
            InvoiceLine(
                kind: InvoiceLine.Kind(rawValue: item.kind) ?? .adjustment, description: item.description, quantity: 1,
                unitAmount: item.amount.amountMinor, amount: item.amount.amountMinor)
        }
    }
}
