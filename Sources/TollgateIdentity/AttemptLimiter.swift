import Foundation
import TollgateCore
import TollgateStorage

/// Counts failed attempts per key (an account, an IP address) in a sliding window, and refuses
/// further attempts once a key has too many. A failure may name what it was about (the account
/// an address tried): a rule that counts distinct subjects then lets one person mistype their
/// own password without locking everyone behind the same address. The failures live in the
/// database: every node counts the same ones, and a restart forgives nothing.
public struct AttemptLimiter: Sendable {
    public struct Rule: Sendable {
        public let maximumFailures: Int
        public let window: TimeInterval
        /// Count the distinct subjects of the failures, not the failures.
        public let distinctSubjects: Bool

        public init(maximumFailures: Int, window: TimeInterval, distinctSubjects: Bool = false) {
            self.maximumFailures = maximumFailures
            self.window = window
            self.distinctSubjects = distinctSubjects
        }

        /// Seconds to wait when `recent` (the failures within the window, oldest first) is too
        /// many at `now`; nil when another attempt may be made.
        public func wait(_ recent: [AttemptFailure], now: Date) -> Int? {
            let counted = distinctSubjects ? Set(recent.map { $0.subject ?? "" }).count : recent.count
            guard counted >= maximumFailures, let oldest = recent.first?.at else { return nil }
            return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
        }
    }

    /// Failures older than this are dropped whatever the rule (longer than any window).
    static let keptFor: TimeInterval = 86_400

    let store: any AttemptStore

    public init(store: any AttemptStore) {
        self.store = store
    }

    /// Throws TOO_MANY_ATTEMPTS, with the wait, if `key` is over `rule` at `now`.
    public func check(_ key: String, rule: Rule, now: Date) async throws {
        let recent = try await store.attemptFailures(key: key, since: now.addingTimeInterval(-rule.window))
        if let wait = rule.wait(recent, now: now) {
            throw DomainError(
                .tooManyAttempts, "too many attempts; try again in \(wait) seconds", retryAfterSeconds: wait)
        }
    }

    /// Counts a request that is limited however it turns out (a reset or confirmation mail sent):
    /// refused when `key` is over `rule`, counted otherwise.
    public func spend(_ key: String, rule: Rule, now: Date) async throws {
        try await check(key, rule: rule, now: now)
        try await recordFailure(key, at: now)
    }

    public func recordFailure(_ key: String, at now: Date, subject: String? = nil) async throws {
        try await store.recordAttemptFailure(key: key, at: now, subject: subject)
        _ = try await store.purgeAttemptFailures(before: now.addingTimeInterval(-Self.keptFor))
    }

    public func reset(_ key: String) async throws {
        try await store.clearAttemptFailures(key: key)
    }
}
