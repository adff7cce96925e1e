import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

/// The webhook endpoints' store on both databases: the sender's record of how an endpoint
/// answers never undoes an operator's change made meanwhile.
@Suite struct WebhookStoreContractTests {
    @Test(arguments: TestDatabase.all)
    func theSendersHealthRecordKeepsAConcurrentRotation(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let start = Fixtures.utc(2026, 5, 14)
            try await store.createWebhookEndpoint(
                WebhookEndpointRecord(
                    id: "we_1", url: "https://93.184.215.14/hook", description: nil, eventTypes: ["credits.low"],
                    sealedSecret: "old", createdAt: start))
            // The sender read the endpoint; the operator rotates its secret; the sender records a failure.
            var rotated = try #require(try await store.webhookEndpoint(id: "we_1"))
            rotated.sealedSecret = "new"
            rotated.sealedPreviousSecret = "old"
            #expect(try await store.updateWebhookEndpoint(rotated))
            try await store.recordWebhookEndpointHealth(id: "we_1", .failing, at: start + 60)
            try await store.recordWebhookEndpointHealth(id: "we_1", .failing, at: start + 120)
            var stored = try #require(try await store.webhookEndpoint(id: "we_1"))
            #expect(stored.sealedSecret == "new" && stored.sealedPreviousSecret == "old")
            #expect(stored.failingSince == start + 60, "the first failure's time is kept")
            #expect(stored.eventTypes == ["credits.low"])
            try await store.recordWebhookEndpointHealth(id: "we_1", .answering, at: start + 180)
            stored = try #require(try await store.webhookEndpoint(id: "we_1"))
            #expect(stored.failingSince == nil && stored.disabledAt == nil)
            try await store.recordWebhookEndpointHealth(id: "we_1", .disabled(reason: "gone"), at: start + 240)
            stored = try #require(try await store.webhookEndpoint(id: "we_1"))
            #expect(stored.disabledAt == start + 240 && stored.disabledReason == "gone" && stored.sealedSecret == "new")
            #expect(try await store.deleteWebhookEndpoint(id: "we_1"))
            #expect(try await store.deleteWebhookEndpoint(id: "we_1") == false)
        }
    }
}
