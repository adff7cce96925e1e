import Foundation
import Synchronization
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

/// The store tells this process of a customer changed by its own transaction at the commit
/// itself — before the caller goes on — and never of one a rollback undid (the cache's one way
/// to hear of a change made here).
@Suite struct CommitAnnouncementTests {
    struct Undone: Error {}

    @Test(arguments: TestDatabase.all)
    func aChangeIsToldAtCommitAndNotAfterARollback(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let told = Mutex<[String]>([])
            store.whenCustomerChangeCommits { id in told.withLock { $0.append(id) } }
            let at = Fixtures.utc(2026, 5, 14)
            for id in ["c1", "c2"] {
                _ = try await store.createCustomer(
                    CustomerRecord(
                        id: id, email: nil, name: nil, planId: "free", billingAnchor: at, createdAt: at,
                        updatedAt: at))
            }
            told.withLock { $0.removeAll() }

            _ = try await store.changePlan(customerId: "c1", planId: "pro", at: at)
            #expect(told.withLock { $0 } == ["c1"], "told before changePlan returned")

            await #expect(throws: Undone.self) {
                try await store.transaction { tx in
                    _ = try await tx.changePlan(customerId: "c2", planId: "pro", at: at)
                    throw Undone()
                }
            }
            #expect(told.withLock { $0 } == ["c1"], "a rolled-back change is not told")
            #expect(try await store.customer(id: "c2")?.planId == "free")

            // Within a transaction, told once the whole commits, not at the inner write.
            try await store.transaction { tx in
                _ = try await tx.changePlan(customerId: "c2", planId: "pro", at: at)
                #expect(told.withLock { $0 } == ["c1"], "not yet: the transaction is open")
            }
            #expect(told.withLock { $0 } == ["c1", "c2"])
        }
    }
}
