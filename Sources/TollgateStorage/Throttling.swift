import Foundation
import TollgateCore

/// Token buckets kept in the database, shared by every node of a cluster: each node takes tokens
/// in small batches and spends them locally.
public protocol RateLimitStore: Sendable {
    /// Takes up to `wanted` tokens from the bucket `key` (full at `capacity`, refilled by
    /// `capacity` a minute) at `now` (milliseconds), in one transaction; the bucket as it is left.
    func takeRateTokens(key: String, capacity: Int64, wanted: Int64, now: Int64) async throws
        -> (given: Int64, bucket: TokenBucket)
}

/// One failed attempt (a sign-in, a reset request) as the throttles count them.
public struct AttemptFailure: Sendable, Hashable {
    public let at: Date
    public let subject: String?

    public init(at: Date, subject: String?) {
        self.at = at
        self.subject = subject
    }
}

/// Failed attempts kept in the database, so that throttles hold across nodes and restarts.
public protocol AttemptStore: Sendable {
    func recordAttemptFailure(key: String, at: Date, subject: String?) async throws
    /// The failures of `key` since `since`, oldest first.
    func attemptFailures(key: String, since: Date) async throws -> [AttemptFailure]
    func clearAttemptFailures(key: String) async throws
    /// Drops failures older than `cutoff` (of every key); how many went.
    func purgeAttemptFailures(before cutoff: Date) async throws -> Int
}
