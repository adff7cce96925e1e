import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing
import TollgateCore
import TollgateStorage

@testable import TollgateServer

/// Every event Tollgate writes is the body its webhook sends, and openapi.yaml's
/// `webhooks` documents each one exactly (no field undocumented, none missing, types as said).
@Suite struct EventPayloadTests {
    static let catalogYAML = """
        product: events
        name: Events
        defaultPlan: free
        creditTypes: [credits]
        creditLowBalance: { credits: 10 }
        features:
          searches: { type: metered, name: Searches }
        plans:
          - id: free
            order: 0
            features: { searches: { limit: 10, period: monthly } }
          - id: pro
            name: Pro
            order: 1
            prices: [{ currency: EUR, amount: 990 }]
            features: { searches: { limit: 100, period: monthly } }
        """

    @Test(arguments: TestDatabase.all)
    func everyEventConformsToItsDocumentedWebhook(database: TestDatabase) async throws {
        let catalog = try CatalogLoader.load(yaml: Self.catalogYAML)
        try await AppHarness.run(database, catalog: catalog) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"c1","email":"c1@example.com"}"#)
            try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"c1","feature":"searches","amount":10,"idempotencyKey":"k1"}"#)
            try await client.call(
                .post, "/v1/billing/subscriptions", key: key,
                json: #"{"customer":"c1","plan":"pro","idempotencyKey":"s1"}"#)
            try await client.call(.post, "/v1/billing/cancel", key: key, json: #"{"customer":"c1"}"#)
            try await client.call(
                .post, "/v1/customers/c1/credits/grants", key: key,
                json: #"{"amount":30,"reason":"purchase","idempotencyKey":"g1"}"#)
            try await client.call(
                .post, "/v1/credits/debit", key: key,
                json: #"{"customer":"c1","amount":25,"idempotencyKey":"d1"}"#)
            _ = try await app.store.createInvoice(
                InvoiceRecord(
                    id: "in_1", subject: "c1", subscriptionId: "sub_x", currency: Currency("EUR")!,
                    periodStart: app.clock.now(), periodEnd: app.clock.now() + 86_400,
                    lines: [
                        InvoiceLine(kind: .subscription, description: "Pro", quantity: 1, unitAmount: 990, amount: 990)
                    ], createdAt: app.clock.now()),
                claiming: [])
            _ = try await app.store.finalizeInvoice(
                id: "in_1",
                Finalization(
                    lines: [
                        InvoiceLine(
                            kind: .subscription, description: "Pro", quantity: 1, unitAmount: 990, amount: 990,
                            taxRate: 2000, taxAmount: 198)
                    ],
                    parties: InvoiceParties(
                        seller: nil, buyer: nil,
                        treatment: TaxTreatment(kind: .domestic, country: "FR", rate: 2000, mention: nil)),
                    numbering: .invoices, at: app.clock.now(), dueAt: app.clock.now() + 86_400 * 30),
                afterNumbering: nil)

            let events = try await app.store.outboxMessages(recipient: "customer:c1").filter {
                $0.kind.hasPrefix("event.")
            }
            let types = Set(events.map { String($0.kind.dropFirst("event.".count)) })
            #expect(
                types.isSuperset(of: [
                    "customer.created", "usage.threshold_reached", "usage.limit_reached", "subscription.created",
                    "customer.plan_changed", "subscription.updated", "credits.low", "invoice.issued",
                ]), "\(types)")
            let validator = try #require(OpenAPIResponseValidator.shared)
            // The check itself refuses what the document does not say.
            #expect(
                !validator.problems(ofWebhook: Data(#"{"type":"credits.low","timestamp":"t","data":{}}"#.utf8)).isEmpty)
            let extra =
                #"{"type":"credits.low","timestamp":"2026-05-14T00:00:00Z","data":{"customerId":"c1","#
                + #""creditType":"credits","balance":1,"threshold":2,"version":3,"extra":true}}"#
            #expect(!validator.problems(ofWebhook: Data(extra.utf8)).isEmpty, "an undocumented field")
            for event in events {
                let problems = validator.problems(ofWebhook: Data(event.payload.utf8))
                #expect(problems.isEmpty, "\(event.kind): \(problems)")
            }
        }
    }
}
