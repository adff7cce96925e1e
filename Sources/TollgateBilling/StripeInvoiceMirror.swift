import Foundation
import TollgateCore
import TollgateStorage

/// Stripe's invoices, mirrored read-only from its `invoice.*` webhooks, so
/// that a customer's invoices list Stripe's beside Tollgate's own: number, status, lines, VAT,
/// total and Stripe's page for it.
enum StripeInvoiceMirror {
    /// Our record of Stripe's invoice `object` for `subject`; nil when it is not one we keep (a
    /// deleted draft, an unknown status).
    static func record(_ object: [String: Any], subject: String) -> InvoiceRecord? {
        guard let id = object["id"] as? String, let status = (object["status"] as? String).flatMap(InvoiceStatus.init),
            let code = object["currency"] as? String, let currency = Currency(code.uppercased())
        else { return nil }
        let created = stripeDate(object["created"]) ?? stripeDate(object["date"]) ?? Date(timeIntervalSince1970: 0)
        var lines: [InvoiceLine] = ((object["lines"] as? [String: Any])?["data"] as? [[String: Any]] ?? []).map {
            line in
            let taxes = (line["tax_amounts"] as? [[String: Any]] ?? []).compactMap { JSONNumber.int64($0["amount"]) }
            let period = line["period"] as? [String: Any]
            return InvoiceLine(
                kind: (line["type"] as? String) == "subscription" ? .subscription : .adjustment,
                description: line["description"] as? String ?? "Stripe line item",
                quantity: JSONNumber.int64(line["quantity"]) ?? 1, unitAmount: nil,
                amount: JSONNumber.int64(line["amount"]) ?? 0,
                taxAmount: taxes.reduce(0, +), periodStart: stripeDate(period?["start"]),
                periodEnd: stripeDate(period?["end"]))
        }
        // Stripe's own figures are the truth: whatever its lines do not explain (discounts, a
        // balance applied, a tax not itemised) becomes one adjustment line, so the totals match.
        let subtotal = JSONNumber.int64(object["subtotal"]) ?? Invoicing.subtotal(lines)
        let tax = JSONNumber.int64(object["tax"]) ?? Invoicing.tax(lines)
        let total = JSONNumber.int64(object["total"]) ?? subtotal + tax
        let missingTax = tax - Invoicing.tax(lines)
        let missingAmount = total - missingTax - Invoicing.total(lines)
        if missingAmount != 0 || missingTax != 0 {
            lines.append(
                InvoiceLine(
                    kind: .adjustment, description: "Adjustments (discounts, balance, taxes) as Stripe states them",
                    quantity: 1, unitAmount: nil, amount: missingAmount, taxAmount: missingTax))
        }
        let transitions = object["status_transitions"] as? [String: Any] ?? [:]
        var record = InvoiceRecord(
            id: id, subject: subject, subscriptionId: object["subscription"] as? String, status: status,
            number: object["number"] as? String, currency: currency, periodStart: nil, periodEnd: nil, lines: lines,
            createdAt: created,
            finalizedAt: stripeDate(transitions["finalized_at"]) ?? (status == .draft ? nil : created),
            dueAt: stripeDate(object["due_date"]))
        record.paidAt = stripeDate(transitions["paid_at"]) ?? (status == .paid ? created : nil)
        record.voidedAt = stripeDate(transitions["voided_at"])
        record.markedUncollectibleAt = stripeDate(transitions["marked_uncollectible_at"])
        record.provider = PaymentProviderKind.stripe.rawValue
        record.hostedURL = object["hosted_invoice_url"] as? String
        return record
    }
}
