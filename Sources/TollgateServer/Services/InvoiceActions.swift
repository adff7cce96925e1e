import TollgateBilling
import TollgateCore
import TollgateStorage

/// What a person does to one of Tollgate's own invoices, from the API or the console: one path,
/// so a payment always tells the subscription it settles.
enum InvoiceActions {
    static func apply(
        _ transition: InvoiceStatus.Transition, to id: String, invoices: InvoiceService,
        subscriptions: SubscriptionService
    ) async throws -> InvoiceRecord {
        let invoice = try await invoices.apply(transition, to: id)
        if transition == .pay { try await subscriptions.invoicePaid(invoice) }
        return invoice
    }
}
