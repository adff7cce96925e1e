import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

/// Many customers in one transaction: those new are written with their state and their
/// `customer.created` event, those there already are answered as stored, in the order asked.
@Suite struct BulkCustomerContractTests {
    @Test(arguments: TestDatabase.all)
    func newOnesAreWrittenWithTheirEventAndExistingOnesAnsweredAsStored(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let at = Fixtures.utc(2026, 5, 14)
            func record(_ id: String, plan: String = "free", email: String? = nil) -> CustomerRecord {
                CustomerRecord(
                    id: id, email: email, name: nil, planId: plan, billingAnchor: at, createdAt: at, updatedAt: at)
            }
            _ = try await store.createCustomer(record("old", email: "old@example.com"))
            // More rows than one statement holds, so the chunks meet.
            let asked = [record("old")] + (0..<600).map { record("c\($0)", plan: $0 == 7 ? "pro" : "free") }
            let creations = try await store.createCustomers(asked)
            #expect(creations.count == 601)
            #expect(creations.first == .existing(record("old", email: "old@example.com")), "as stored, not as asked")
            #expect(creations.dropFirst().allSatisfy { if case .created = $0 { true } else { false } })
            #expect(try await store.customer(id: "c7")?.planId == "pro")
            #expect(try await store.customerHistory(id: "c599", limit: 5).map(\.planId) == ["free"])
            let events = try await store.outboxEntries(failedOnly: false, limit: 1_000).filter {
                $0.message.kind == "event.customer.created"
            }
            #expect(events.count == 601, "one customer.created each, the earlier customer's included")

            let again = try await store.createCustomers((0..<600).map { record("c\($0)") })
            #expect(again.allSatisfy { if case .existing = $0 { true } else { false } }, "nothing written twice")
            #expect(
                try await store.outboxEntries(failedOnly: false, limit: 2_000).filter {
                    $0.message.kind == "event.customer.created"
                }
                .count == 601)
        }
    }
}
