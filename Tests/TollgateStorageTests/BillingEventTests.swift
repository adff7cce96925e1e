import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateNotify
import TollgateSQL
import TollgateStorage

/// Which events a subscription change tells and which mail each becomes (pure),
/// and an issued invoice told in the transaction that issues it, once.
@Suite struct BillingEventTests {
    @Test func subscriptionChangesTellTheirTypeAndTheirMail() {
        let types = SubscriptionChangeEvents.types
        #expect(types(nil, .trialing) == ["subscription.created"])
        #expect(types(.active, .active) == ["subscription.updated"])
        #expect(types(.active, .pastDue) == ["subscription.past_due"])
        #expect(types(.pastDue, .inactive) == ["subscription.canceled"])
        #expect(types(.active, .canceled) == ["subscription.canceled"])
        #expect(types(.pastDue, .active) == ["subscription.updated"])
        let mail = { (type: String, from: String?, to: String) in
            EventFanOut.mailKind(ofEvent: type, data: ["previousStatus": from as Any, "status": to])
        }
        #expect(mail("subscription.past_due", "active", "past_due") == "email.payment_failed")
        #expect(mail("subscription.canceled", "past_due", "inactive") == "email.subscription_suspended")
        #expect(mail("subscription.canceled", "trialing", "inactive") == "email.trial_ended")
        #expect(mail("subscription.canceled", "active", "canceled") == nil, "a cancellation the customer asked for")
        #expect(mail("subscription.updated", "past_due", "active") == "email.subscription_reactivated")
        #expect(mail("subscription.updated", "trialing", "active") == nil, "a trial that converted: nothing to say")
        #expect(mail("subscription.created", nil, "active") == nil)
        #expect(
            mail("subscription.created", nil, "trialing") == "email.trial_started", "a trial is told when it starts")
        let receipt = { (data: [String: Any]) in EventFanOut.mailKind(ofEvent: "invoice.paid", data: data) }
        #expect(receipt(["invoiceId": "in_1", "provider": "manual", "totalMinor": 990]) == "email.invoice_paid")
        #expect(
            receipt(["invoiceId": "in_1", "provider": "manual", "totalMinor": 0]) == nil,
            "nothing paid (an invoice of nothing is paid as it is issued): no receipt")
        #expect(receipt(["provider": "stripe", "providerEventId": "evt_1"]) == nil, "Stripe sends its own receipts")
        #expect(mail("customer.created", nil, "") == nil, "webhooks only")
    }

    @Test(arguments: TestDatabase.all)
    func anIssuedInvoiceIsToldOnce(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let invoice = InvoiceRecord(
                id: "in_1", subject: "c1", subscriptionId: "sub_1", currency: Currency("EUR")!,
                periodStart: Fixtures.utc(2026, 4, 14), periodEnd: Fixtures.utc(2026, 5, 14),
                lines: [
                    InvoiceLine(kind: .subscription, description: "Pro", quantity: 1, unitAmount: 990, amount: 990)
                ],
                createdAt: Fixtures.utc(2026, 5, 14))
            #expect(try await store.createInvoice(invoice, claiming: []))
            #expect(try await store.createInvoice(invoice, claiming: []) == false, "one invoice per period")
            let finalization = Finalization(
                lines: invoice.lines,
                parties: InvoiceParties(
                    seller: nil, buyer: nil, treatment: try TaxTreatment.decide(seller: nil, buyer: nil, on: .now)),
                numbering: .invoices, at: Fixtures.utc(2026, 5, 14), dueAt: Fixtures.utc(2026, 5, 14))
            _ = try await store.finalizeInvoice(id: "in_1", finalization, afterNumbering: nil)
            await #expect(throws: InvoiceStoreError.wrongStatus(.open)) {
                try await store.finalizeInvoice(id: "in_1", finalization, afterNumbering: nil)
            }
            let told = try await store.outboxMessages(recipient: "customer:c1").filter {
                $0.kind == "event.invoice.issued"
            }
            #expect(told.count == 1)
            let body = try JSONSerialization.jsonObject(with: Data((told.first?.payload ?? "").utf8)) as? [String: Any]
            let data = try #require(body?["data"] as? [String: Any])
            #expect(data["number"] as? String == "INV-2026-000001" && data["total"] as? String == "9.90 EUR")
            #expect(data["totalMinor"] as? Int == 990 && data["customerId"] as? String == "c1")
            #expect(EventFanOut.mailKind(ofEvent: "invoice.issued", data: data) == "email.invoice_issued")

            // Marked paid, the invoice tells `invoice.paid` (its receipt) in the
            // same transaction, once.
            _ = try await store.transitionInvoice(id: "in_1", .pay, at: Fixtures.utc(2026, 5, 20))
            await #expect(throws: InvoiceStoreError.wrongStatus(.paid)) {
                try await store.transitionInvoice(id: "in_1", .pay, at: Fixtures.utc(2026, 5, 21))
            }
            let paid = try await store.outboxMessages(recipient: "customer:c1").filter {
                $0.kind == "event.invoice.paid"
            }
            #expect(paid.count == 1)
            let paidBody = try JSONSerialization.jsonObject(with: Data((paid.first?.payload ?? "").utf8))
            let paidData = try #require((paidBody as? [String: Any])?["data"] as? [String: Any])
            #expect(paidData["invoiceId"] as? String == "in_1" && paidData["number"] as? String == "INV-2026-000001")
            #expect(paidData["totalMinor"] as? Int == 990 && paidData["provider"] as? String == "manual")
            #expect(paidData["subscriptionId"] as? String == "sub_1")
            #expect(EventFanOut.mailKind(ofEvent: "invoice.paid", data: paidData) == "email.invoice_paid")
        }
    }
}
