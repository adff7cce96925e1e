import Foundation
import Synchronization
import TollgateCore

/// Counts failed attempts per key (an account, an IP address) in a sliding window, and refuses
/// further attempts once a key has too many. A failure may name what it was about (the account
/// an address tried): a rule that counts distinct subjects then lets one person mistype their
/// own password without locking everyone behind the same address. In memory, per node: a
/// restart forgives.
public final class AttemptLimiter: Sendable {
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
    }

    private struct Failure {
        let at: Date
        let subject: String?
    }

    private let failures = Mutex<[String: [Failure]]>([:])

    public init() {}

    /// Throws TOO_MANY_ATTEMPTS, with the wait, if `key` is over `rule` at `now`.
    public func check(_ key: String, rule: Rule, now: Date) throws(DomainError) {
        let recent = failures.withLock { failures -> [Failure] in
            let kept = (failures[key] ?? []).filter { now.timeIntervalSince($0.at) < rule.window }
            failures[key] = kept.isEmpty ? nil : kept
            return kept
        }
        let counted = rule.distinctSubjects ? Set(recent.map { $0.subject ?? "" }).count : recent.count
        guard counted >= rule.maximumFailures, let oldest = recent.first?.at else { return }
        let wait = max(1, Int((rule.window - now.timeIntervalSince(oldest)).rounded(.up)))
        throw DomainError(.tooManyAttempts, "too many attempts; try again in \(wait) seconds", retryAfterSeconds: wait)
    }

    public func recordFailure(_ key: String, at now: Date, subject: String? = nil) {
        failures.withLock { $0[key, default: []].append(Failure(at: now, subject: subject)) }
    }

    public func reset(_ key: String) {
        _ = failures.withLock { $0.removeValue(forKey: key) }
    }
}
