import TollgateBilling
import TollgateCore
import TollgateStorage

/// What a person does to one of Tollgate's own invoices, from the API or the console: one path,
/// so a payment always moves the subscription it settles, in the payment's transaction.
public enum InvoiceActions {
    public static func apply(
        _ transition: InvoiceStatus.Transition, to id: String, invoices: InvoiceService,
        subscriptions: SubscriptionService
    ) async throws -> InvoiceRecord {
        if transition == .pay { return try await subscriptions.payInvoice(id, invoices: invoices) }
        return try await invoices.apply(transition, to: id)
    }
}
