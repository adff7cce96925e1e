import Foundation
import Synchronization
import TollgateCore
import TollgateStorage

/// Token buckets per caller (`key:<id>`, `user:<id>`, `ip:<address>`). On one node they live in
/// memory and are exact. With several nodes (`--cluster`) each bucket lives in PostgreSQL and a
/// node takes tokens from it in small batches, spending them locally for at most a second: the
/// nodes together never let more through than the bucket holds, and a node may refuse while
/// tokens another node took sit unspent — at most (nodes − 1) × batch requests early.
final class RateLimiter: Sendable {
    struct Shared: Sendable {
        let store: any RateLimitStore
        /// How long a node may spend tokens it took before giving the rest up.
        var leaseMilliseconds: Int64 = 1000
    }

    private struct Lease {
        var tokens: Int64
        var expiresAt: Int64
        /// The shared bucket as it was left when these tokens were taken.
        var bucket: TokenBucket
    }

    private enum Entry {
        case local(TokenBucket)
        case lease(Lease)
    }

    private let shared: Shared?
    private let clock: any TollgateClock
    private let entries: Mutex<LRUCache<String, Entry>>

    init(shared: Shared?, clock: any TollgateClock, capacity: Int = 100_000) {
        self.shared = shared
        self.clock = clock
        entries = Mutex(LRUCache(capacity: capacity))
    }

    /// A batch: a twentieth of the minute's allowance, between 1 and 50 tokens.
    static func batch(_ limit: RateLimit) -> Int64 { min(50, max(1, limit.requestsPerMinute / 20)) }

    func take(_ key: String, limit: RateLimit) async throws -> RateLimitVerdict {
        let now = Millis.from(clock.now())
        let capacity = limit.requestsPerMinute
        guard let shared else {
            return entries.withLock { entries in
                var bucket: TokenBucket
                if case .local(let known) = entries.get(key), known.capacity == capacity {
                    bucket = known
                } else {
                    bucket = TokenBucket(capacity: capacity, now: now)
                }
                let verdict = RateLimitVerdict.take(&bucket, now: now)
                _ = entries.set(key, .local(bucket))
                return verdict
            }
        }
        if let verdict = spendLeased(key, now: now, capacity: capacity) { return verdict }
        let (given, bucket) = try await shared.store.takeRateTokens(
            key: key, capacity: capacity, wanted: Self.batch(limit), now: now)
        guard given > 0 else {
            var empty = bucket
            return RateLimitVerdict.take(&empty, now: now)
        }
        // Requests that found the lease empty at once each took a batch: the batches add up.
        let left = entries.withLock { entries -> Int64 in
            var tokens = given - 1
            if case .lease(let held) = entries.peek(key), held.expiresAt > now, held.bucket.capacity == capacity {
                tokens += held.tokens
            }
            _ = entries.set(
                key, .lease(Lease(tokens: tokens, expiresAt: now + shared.leaseMilliseconds, bucket: bucket)))
            return tokens
        }
        return .allowed(holding: left, beside: bucket)
    }

    /// One token from this node's lease on the key's shared bucket, if it has one left.
    private func spendLeased(_ key: String, now: Int64, capacity: Int64) -> RateLimitVerdict? {
        entries.withLock { entries -> RateLimitVerdict? in
            guard case .lease(var lease) = entries.get(key), lease.tokens > 0, lease.expiresAt > now,
                lease.bucket.capacity == capacity
            else { return nil }
            lease.tokens -= 1
            _ = entries.set(key, .lease(lease))
            return .allowed(holding: lease.tokens, beside: lease.bucket)
        }
    }
}
