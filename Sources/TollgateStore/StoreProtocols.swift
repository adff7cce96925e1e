import Foundation
import TollgateCore

public protocol CustomerStore: Sendable {
    /// Creates the customer unless the id exists; never overwrites.
    func createCustomer(_ customer: CustomerRecord) async throws -> CustomerCreation
    func customer(id: String) async throws -> CustomerRecord?
    /// Moves the customer to `planId` and re-anchors the billing cycle; nil if there is no such customer.
    func changePlan(customerId: String, planId: String, at: Date) async throws -> CustomerRecord?
    /// Replaces the add-on quantities and the seats bought; nil if there is no such customer.
    func setAddOns(customerId: String, addOns: [String: Int], seats: Int?, at: Date) async throws -> CustomerRecord?
    /// Sets (or, with nil, removes) the cap on what one period's overage may cost.
    func setSpendCap(customerId: String, cap: Money?, at: Date) async throws -> CustomerRecord?
}

public protocol APIKeyStore: Sendable {
    func insertAPIKey(_ key: APIKeyRecord) async throws
    func apiKey(secretHash: String) async throws -> APIKeyRecord?
    func apiKey(id: String) async throws -> APIKeyRecord?
    /// Newest first.
    func listAPIKeys() async throws -> [APIKeyRecord]
    func markAPIKeyUsed(id: String, at: Date) async throws
    /// Revokes the key now; nil if there is no such key. Revoking twice keeps the first time.
    func revokeAPIKey(id: String, at: Date) async throws -> APIKeyRecord?
    /// Inserts `replacement` and makes the old key expire at `oldExpiresAt` (if sooner), in one
    /// transaction; nil (and nothing written) if the old key does not exist or is revoked.
    func rotateAPIKey(id: String, replacement: APIKeyRecord, oldExpiresAt: Date) async throws -> APIKeyRecord?
}

public protocol UsageStore: Sendable {
    /// The committed value of a counter (0 when it was never written).
    func counterValue(_ key: CounterKey) async throws -> Int64
    /// Applies every delta and stores every idempotency record in one transaction.
    /// Applies the batch in one transaction. An entry whose idempotency key is stored already
    /// (a retry, or another node's) is skipped whole; the answer says, per entry, whether it
    /// was applied.
    @discardableResult
    func commit(_ batch: UsageBatch) async throws -> [Bool]
    func idempotencyRecord(scope: String, key: String) async throws -> IdempotencyRecord?
    /// Deletes up to `limit` of the oldest idempotency records created before `cutoff`; how many
    /// it deleted. A request retried with a deleted key is a new request.
    func purgeIdempotencyRecords(createdBefore cutoff: Date, limit: Int) async throws -> Int
    /// Counters of `subject`: lifetime ones always, periodic ones whose window starts in [from, to).
    func usageHistory(subject: String, from: Date, to: Date) async throws -> [UsageRow]
}

public protocol HealthCheck: Sendable {
    /// Throws unless the database answers a query now.
    func ping() async throws
}

/// Everything the server needs from storage.
/// What other nodes changed, for this node's caches.
public protocol ChangeFeed: Sendable {
    /// Calls `ready` once listening, then `changed` with the id of every customer changed by
    /// any node (this one included), until cancelled.
    func listenForCustomerChanges(ready: @escaping @Sendable () -> Void, changed: @escaping @Sendable (String) -> Void) async throws
}

public typealias TollgateStorage = CustomerStore & APIKeyStore & UsageStore & IdentityStore & WorkspaceStore & CreditStore & BillingStore & HealthCheck & ChangeFeed & LeaseStore
