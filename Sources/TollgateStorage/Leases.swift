import Foundation
import TollgateCore

/// What a lease request got: units this node may consume on its own, and the committed count.
public struct LeaseGrant: Sendable, Equatable {
    public let granted: Int64
    /// Units committed by every node when the lease was granted.
    public let used: Int64

    public init(granted: Int64, used: Int64) {
        self.granted = granted
        self.used = used
    }
}

/// Quota leases, for several nodes metering the same counters: each node consumes from memory
/// within units leased to it, so the sum of what nodes may still consume never passes the limit.
/// A lease lapses at its expiry: the units a crashed node held come back then.
public protocol LeaseStore: Sendable {
    /// In one transaction, with the counter's row locked: what remains of `limit` after the
    /// committed count, every other node's live lease and what `node` still holds is
    /// `available`; `node` gets `amount(available)` more (clamped to what is available), and its
    /// lease grows by that, until `ttlMillis` from now.
    ///
    /// What `node` holds is its live lease less the `forfeited` units it stopped using since it
    /// last asked; a lease that lapsed holds only the node's `inflight` units (taken, not
    /// committed). Lease rows change only by differences — grants add, commits subtract,
    /// forfeits subtract — so a commit landing while the node asks is never counted twice.
    func acquireLease(
        _ key: CounterKey, period: String, periodEndMillis: Int64?, limit: Int64, node: String, forfeited: Int64,
        inflight: Int64, ttlMillis: Int64,
        amount: @Sendable (_ available: Int64) -> Int64
    ) async throws -> LeaseGrant
    /// Gives back everything `node` holds (at shutdown).
    func releaseLeases(node: String) async throws
    /// Records a consume refused from a lease as its key's answer until `until`: a copy of the
    /// same request taken on another node (its units in flight) then finds the key answered at
    /// its commit, gives the units back and answers the refusal too. False when the key holds an
    /// answer already (that one stands). An answer recorded after `until` replaces it.
    func recordRefusal(_ record: IdempotencyRecord, until: Date) async throws -> Bool
    /// Decides and applies one consume inside the database, serialized per customer (see
    /// `SQLStore.consumeSerialized`).
    func consumeSerialized<Decision: Sendable>(
        customerId: String, keys: [CounterKey], delta: CounterDelta, fact: UsageFact, claim: IdempotencyClaim,
        at date: Date,
        decide: @escaping @Sendable ([CounterKey: Int64]) throws -> (Decision, response: String?)
    ) async throws -> SerializedConsume<Decision>
}

/// What a consume decided inside the database found.
public enum SerializedConsume<Decision: Sendable>: Sendable {
    /// Decided (and, when it returned a record, applied) in the transaction.
    case decided(Decision)
    /// The idempotency key was stored already: nothing was applied.
    case alreadyAnswered
}
