import Foundation
import Logging
import Synchronization
import TollgateCore
import TollgateMeter
import TollgateStore

/// Runs an EntitlementService over a real store, with its group committer running beside it.
public enum MeterHarness {
    public static func withService<T: Sendable>(
        store: any TollgateStorage, catalog: Catalog, clock: any TollgateClock,
        _ body: @escaping @Sendable (EntitlementService) async throws -> T
    ) async throws -> T {
        let committer = GroupCommitter(store: store, clock: clock, logger: TestDatabase.logger)
        let service = EntitlementService(catalog: catalog, store: store, committer: committer, clock: clock, logger: TestDatabase.logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await committer.run()
                return nil
            }
            group.addTask { try await body(service) }
            var result: T?
            while let next = try await group.next() {
                if let value = next {
                    result = value
                    group.cancelAll()
                }
            }
            return result!
        }
    }
}

/// A store whose commits can be made to fail, to test that nothing is counted then.
public final class FlakyStore: TollgateStorage {
    public let base: SQLStore
    public let failCommits = Atomic<Bool>(false)

    public init(base: SQLStore) { self.base = base }

    struct InjectedFailure: Error {}

    public func createCustomer(_ customer: CustomerRecord) async throws -> CustomerCreation { try await base.createCustomer(customer) }
    public func customer(id: String) async throws -> CustomerRecord? { try await base.customer(id: id) }
    public func changePlan(customerId: String, planId: String, at: Date) async throws -> CustomerRecord? {
        try await base.changePlan(customerId: customerId, planId: planId, at: at)
    }
    public func insertAPIKey(_ key: APIKeyRecord) async throws { try await base.insertAPIKey(key) }
    public func apiKey(secretHash: String) async throws -> APIKeyRecord? { try await base.apiKey(secretHash: secretHash) }
    public func markAPIKeyUsed(id: String, at: Date) async throws { try await base.markAPIKeyUsed(id: id, at: at) }
    public func counterValue(_ key: CounterKey) async throws -> Int64 { try await base.counterValue(key) }
    public func commit(_ batch: UsageBatch) async throws {
        if failCommits.load(ordering: .relaxed) { throw InjectedFailure() }
        try await base.commit(batch)
    }
    public func idempotencyRecord(scope: String, key: String) async throws -> IdempotencyRecord? {
        try await base.idempotencyRecord(scope: scope, key: key)
    }
    public func usageHistory(subject: String, from: Date, to: Date) async throws -> [UsageRow] {
        try await base.usageHistory(subject: subject, from: from, to: to)
    }
    public func ping() async throws {
        if failCommits.load(ordering: .relaxed) { throw InjectedFailure() }
        try await base.ping()
    }
}
